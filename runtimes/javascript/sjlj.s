# The __c_longjmp exception tag, which clang's setjmp/longjmp lowering catches (every object that
# calls setjmp holds a weak, undefined reference to it), and the one function that throws it. See
# sjlj.c. Its payload is one i32: a pointer to {jmp_buf *env, int value}.
	.text
	.tagtype	__c_longjmp i32
	.globl	__c_longjmp
__c_longjmp:

	.globl	__isola_throw_longjmp
	.type	__isola_throw_longjmp,@function
__isola_throw_longjmp:
	.functype	__isola_throw_longjmp (i32) -> ()
	local.get	0
	throw	__c_longjmp
	unreachable
	end_function
