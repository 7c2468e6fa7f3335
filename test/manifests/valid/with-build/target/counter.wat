;; A command that also exports handle() and user(), the entry points its triggers name instead of
;; _start (the component reuses instances, and a command's _start runs once per instance).
(module
  (memory (export "memory") 1)
  (global $count (mut i32) (i32.const 0))
  (func (export "_start"))
  (func (export "handle") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.get $count))
  (func (export "user") (result i32) (global.get $count)))
