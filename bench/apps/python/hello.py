# The Python hello endpoint of `npm run bench` (bench/suites/runtimes.ts).
import os

print("Content-Type: text/plain")
print()
print(f"Hello from Python, {os.environ.get('QUERY_STRING') or 'world'}!")
