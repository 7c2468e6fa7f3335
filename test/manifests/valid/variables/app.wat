;; A CGI hello: writes a response head and body to stdout with fd_write, then returns.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec { buf = 16, len = 36 } at 0; the byte count written goes to 8.
  (data (i32.const 0) "\10\00\00\00\24\00\00\00")
  (data (i32.const 16) "Content-Type: text/plain\n\nhello, hi\n")
  (func (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
