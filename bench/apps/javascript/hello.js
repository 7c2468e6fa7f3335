// The JavaScript hello endpoint of `npm run bench` (bench/suites/runtimes.ts).
print('Content-Type: text/plain\n');
print('Hello from JavaScript, ' + (process.env.QUERY_STRING || 'world') + '!');
