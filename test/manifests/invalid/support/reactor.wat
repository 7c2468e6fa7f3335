;; A reactor: it exports functions, but no _start.
(module
  (memory (export "memory") 1)
  (func (export "_initialize"))
  (func (export "handle") (result i32) (i32.const 0)))
