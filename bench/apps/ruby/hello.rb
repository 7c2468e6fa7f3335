# The Ruby hello endpoint of `npm run bench` (bench/suites/runtimes.ts).
print "Content-Type: text/plain\n\n"
print "Hello from Ruby, #{ENV['QUERY_STRING'].to_s.empty? ? 'world' : ENV['QUERY_STRING']}!\n"
