/**
 * The Ruby half of a pre-initialized Ruby (see ruby.ts): the module `Isola` that the snapshot's
 * initialization defines (helpers for scripts, and `Isola::Runner`, isola's entry points), and
 * the one-line calls into it that the added Wasm functions evaluate with ruby.wasm's
 * `rb-eval-string-protect` (which evaluates in TOPLEVEL_BINDING). Neither line binds a name at
 * the top level, so the script a request runs finds `main` as Ruby leaves it.
 */

/**
 * `Isola`: `Request`, `request` and `respond` for scripts (the names of the Python helper module
 * `isola`); `Runner.initialize_app` runs once, inside the snapshot's initialization,
 * `Runner.resume` once per request, in a fresh instance of the snapshot, and never returns (it
 * ends with `Process.exit!`).
 */
const ISOLA_MODULE = `
# isola's helpers and entry points in a pre-initialized Ruby (src/runtimes/ruby.ts in isola).
module Isola
  # This request, from the CGI variables: method (request_method, as Rack names it, since
  # Object#method is taken), path (PATH_INFO), query, headers, route params (X_PATH_PARAM_*), and
  # its body (stdin).
  class Request
    attr_reader :request_method, :path, :query, :headers, :params

    def initialize(env = ENV)
      @request_method = env.fetch('REQUEST_METHOD', 'GET')
      @path = env.fetch('PATH_INFO', '')
      @query = Isola.parse_query(env.fetch('QUERY_STRING', ''))
      @headers = {}
      @params = {}
      env.each_pair do |name, value|
        @headers[name[5..].downcase.tr('_', '-')] = value if name.start_with?('HTTP_')
        @params[name[13..].downcase] = value if name.start_with?('X_PATH_PARAM_')
      end
      @headers['content-type'] = env['CONTENT_TYPE'] if env.key?('CONTENT_TYPE')
    end

    # The body, as bytes (read once).
    def body
      @body ||= $stdin.binmode.read
    end

    # The body parsed as JSON; nil for an empty body.
    def json
      body.empty? ? nil : JSON.parse(body)
    end
  end

  def self.request
    Request.new
  end

  # Writes the CGI response: the status, a JSON content type, headers, and value as JSON.
  def self.respond(value, status: 200, headers: {})
    head = +"Status: #{Integer(status)}\\nContent-Type: application/json\\n"
    headers.each do |name, header|
      raise ArgumentError, "header #{name.inspect} has a line break" if "#{name}#{header}".match?(/[\\r\\n]/)
      head << "#{name}: #{header}\\n"
    end
    $stdout.write(head, "\\n", JSON.generate(value))
    $stdout.flush
    nil
  end

  # "a=1&b=x+y&b=2" -> {"a" => "1", "b" => ["x y", "2"]}, as application/x-www-form-urlencoded.
  def self.parse_query(query)
    query.split(/[&;]/).each_with_object({}) do |pair, found|
      next if pair.empty?
      name, value = pair.split('=', 2).map do |part|
        part.tr('+', ' ').gsub(/%\\h\\h/) { |escape| escape[1, 2].hex.chr }.force_encoding(Encoding::UTF_8)
      end
      value ||= ''
      found[name] = found.key?(name) ? [*found[name], value] : value
    end
  end

  module Runner # :nodoc:
    @app_dir = nil
    @exit_handlers = []

    class << self
      def initialize_app(app_dir, preload, preload_stdlib_requires, check_syntax)
        @app_dir = app_dir
        preload.each { |feature| require(feature.start_with?('./') ? File.join(app_dir, feature[2..]) : feature) }
        if preload_stdlib_requires
          stdlib_requires(app_dir).each do |feature|
            require feature
          rescue ScriptError, StandardError
            next # not in this build, or it needs something WASI lacks
          end
        end
        check_syntax(app_dir) if check_syntax
        install_at_exit
        # The first compile sets up the parser and compiler, a few ms: once, now, rather than
        # in every request.
        RubyVM::InstructionSequence.compile('nil')
        flush
      end

      # Runs \`ruby SCRIPT [ARG...]\` for this instance's argv and environment, then exits.
      def resume(args_hex, environ_hex)
        status = begin
          args = strings(args_hex).each { |arg| arg.force_encoding(Encoding.default_external) }
          set_environ(strings(environ_hex))
          # Generators seeded while the snapshot was taken would repeat in every request.
          srand
          run_exit_handlers(run(args))
        rescue Exception => e
          report(e)
          1
        end
        flush
        Process.exit!(status)
      end

      private

      def check_syntax(app_dir)
        ruby_files(app_dir).each do |path|
          RubyVM::InstructionSequence.compile_file(path)
        rescue SyntaxError => e
          e.set_backtrace([path])
          raise
        rescue SystemCallError
          next
        end
      end

      # The features the app's .rb files require (a literal name anywhere in them) that the
      # standard library has: its default gems too, not bundled gems, which may act when required
      # (the debug gem starts a debugger).
      def stdlib_requires(app_dir)
        libdir = "#{RbConfig::CONFIG['rubylibdir']}/"
        ruby_files(app_dir).flat_map { |path| File.read(path).scan(/\\brequire\\(?\\s*['"]([\\w\\/.-]+)['"]/) }
                           .flatten.uniq.sort.select do |feature|
          found = $LOAD_PATH.resolve_feature_path(feature)
          found && found[1].start_with?(libdir)
        rescue StandardError
          false
        end
      end

      def ruby_files(dir, found = [], max_files = 1000)
        Dir.children(dir).sort.each do |entry|
          break if found.size == max_files
          next if entry.start_with?('.') || entry == 'node_modules'
          path = File.join(dir, entry)
          if File.directory?(path)
            ruby_files(path, found, max_files)
          elsif entry.end_with?('.rb')
            found << path
          end
        end
        found
      end

      # Kernel#at_exit keeps its handlers for the end of the VM, which a request never reaches
      # (it ends with Process.exit!): the ones registered from now on are run by run_exit_handlers.
      def install_at_exit
        handlers = @exit_handlers
        register = lambda do |block|
          raise ArgumentError, 'called without a block' unless block
          handlers << block
          block
        end
        Kernel.define_method(:at_exit) { |&block| register.(block) }
        Kernel.send(:private, :at_exit)
        Kernel.define_singleton_method(:at_exit) { |&block| register.(block) }
      end

      def strings(hex)
        # WASI's args_get and environ_get write NUL-terminated strings back to back.
        [hex].pack('H*').split("\\0", -1).tap(&:pop)
      end

      def set_environ(entries)
        # Through ENV, so that the C environment (getenv) is this request's too; the build's is gone.
        ENV.clear
        entries.each do |entry|
          name, separator, value = entry.partition('=')
          next if separator.empty?
          begin
            ENV[name] = value
          rescue ArgumentError, SystemCallError
            next # a name setenv refuses, as Ruby would refuse to set it
          end
        end
      end

      def run(args)
        program = args[0] || 'ruby'
        script = args[1]
        if script.nil? || script.start_with?('-')
          $stderr.write("#{program}: this pre-initialized Ruby runs only \`ruby SCRIPT [ARG...]\`; got #{args.drop(1).inspect}\\n")
          return 1
        end
        ARGV.replace(args.drop(2))
        $0 = script
        begin
          iseq = RubyVM::InstructionSequence.compile_file(script)
        rescue SyntaxError => e
          # ruby reports a script that does not compile under the script's name alone.
          e.set_backtrace([script])
          report(e)
          return 1
        rescue SystemCallError => e
          cannot_open(program, script, e)
          return 1
        end
        execute(iseq)
      end

      def execute(iseq)
        depth = caller_locations(0).size
        iseq.eval
        0
      rescue SystemExit => e
        e.status
      rescue Exception => e
        trim_backtrace(e, depth)
        report(e)
        1
      end

      # What ruby prints for a script it cannot open, with a hint for a snapshot run without its directory.
      def cannot_open(program, script, error)
        $stderr.write("#{program}: #{error.class.new.message} -- #{script} (LoadError)\\n")
        return unless error.is_a?(Errno::EBADF)
        # wasi-libc's table of preopened directories is the build's: the app directory at
        # @app_dir as the first descriptor after stdio.
        $stderr.write("#{program}: this snapshot needs the app directory mounted at #{@app_dir}, as its only " \\
                      "directory, as it was when the snapshot was built\\n")
      end

      # Leaves isola's frames (InstructionSequence#eval and the ones below it) out of the
      # backtraces, as ruby shows only the script's own.
      def trim_backtrace(error, depth, seen = {})
        return if error.nil? || seen[error]
        seen[error] = true
        locations = error.backtrace_locations
        keep = locations ? locations.size - depth - 1 : 0
        if keep.positive? && locations[keep].label.end_with?('InstructionSequence#eval')
          error.set_backtrace(locations.first(keep))
        end
        trim_backtrace(error.cause, depth, seen)
      end

      def run_exit_handlers(status)
        # In reverse order of registration, as Ruby runs them; exit in one sets the status.
        while (handler = @exit_handlers.pop)
          begin
            handler.call
          rescue SystemExit => e
            status = e.status
          rescue Exception => e
            report(e)
            status = 1
          end
        end
        status
      end

      # Ruby's report of an uncaught exception: message, class, backtrace, causes.
      def report(error)
        $stderr.write(error.full_message(highlight: false))
      rescue Exception
        $stderr.write("#{error.class}: #{error.message}\\n")
      end

      def flush
        [$stdout, $stderr, STDOUT, STDERR].uniq.each do |io|
          io.flush
        rescue StandardError
          next
        end
      end
    end
  end
end
`;

/**
 * The Ruby the snapshot's initialization evaluates: defines `Isola`, then initializes the app. An
 * exception is reported on stderr and raised again, so that the evaluation fails.
 */
export function initializeSource(
  appDir: string,
  preload: readonly string[],
  preloadStdlibRequires: boolean,
  checkSyntax: boolean,
): string {
  const args = [
    rubyString(appDir),
    `[${preload.map(rubyString).join(', ')}]`,
    preloadStdlibRequires,
    checkSyntax,
  ];
  // A single-quoted heredoc takes the source as it is, with no interpolation or escapes.
  return (
    "begin\n  Kernel.eval(<<'ISOLA_SOURCE', TOPLEVEL_BINDING, '<isola>', 1)\n" +
    `${ISOLA_MODULE}ISOLA_SOURCE\n` +
    `  Isola::Runner.initialize_app(${args.join(', ')})\n` +
    'rescue Exception\n  $stderr.write($!.full_message(highlight: false))\n  $stderr.flush\n  raise\nend\n'
  );
}

/** A string literal for Ruby: single-quoted, with its two escapes. */
function rubyString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * The statement that runs a request, in three pieces: the resume function writes the first, the
 * hex of the argument strings, the second, the hex of the environment strings, then the third.
 */
export const RESUME_SOURCE = Object.freeze({
  beforeArgs: "Isola::Runner.resume('",
  betweenArgsAndEnviron: "', '",
  afterEnviron: "')\n",
});
