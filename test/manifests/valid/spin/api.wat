;; The smallest WASI command: a _start that returns at once.
(module
  (memory (export "memory") 1)
  (func (export "_start")))
