;; A command that also exports handle(), the entry point one trigger names instead of _start.
(module
  (memory (export "memory") 1)
  (global $count (mut i32) (i32.const 0))
  (func (export "_start"))
  (func (export "handle") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.get $count)))
