# The Python example: CPython (compiled to WebAssembly) runs this script for each request, CGI
# style. It reads the query string from the environment and a file bundled with the app.
import json
import os
from urllib.parse import parse_qs

query = parse_qs(os.environ.get("QUERY_STRING", ""))
name = query.get("name", ["world"])[0]
with open("/app/greetings.json") as f:
    greetings = json.load(f)

print("Content-Type: application/json")
print()
print(json.dumps({"greeting": f"{greetings['hello']}, {name}!", "path": os.environ.get("PATH_INFO", "")}))
