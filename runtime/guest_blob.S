/* The static guest init, embedded so the runtime needs no file for it. */
	.section .rodata
	.balign 16
	.globl rt_guest_init_start
	.globl rt_guest_init_end
rt_guest_init_start:
	.incbin GUEST_INIT_PATH
rt_guest_init_end:
	.section .note.GNU-stack,"",@progbits
