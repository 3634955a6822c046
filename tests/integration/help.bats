#!/usr/bin/env bats
# help: no VM.

load helpers

@test "help: lists every verb" {
	local verbs="create start run state kill delete list spec features ps pause resume events exec update checkpoint restore help"
	[ -n "$IS_RUNC" ] || verbs+=" version"
	local v nl=$'\n'
	for form in help --help -h; do
		lightvm $form
		[ "$status" -eq 0 ]
		# An indented line that starts with the verb (bash's regex, not one
		# grep per verb: execs are slow in the lab).
		for v in $verbs; do
			[[ "$nl$output$nl" =~ $nl[[:blank:]]+$v([ ,]|$nl) ]] || fail "'$form' does not list $v"
		done
	done
}

@test "help VERB and VERB --help describe the verb's options" {
	lightvm help create
	[ "$status" -eq 0 ]
	assert_output_contains -- "--bundle"
	assert_output_contains -- "--console-socket"
	assert_output_contains -- "--pid-file"
	lightvm run --help
	[ "$status" -eq 0 ]
	assert_output_contains -- "--detach"
	assert_output_contains -- "--keep"
	lightvm kill --help
	[ "$status" -eq 0 ]
	assert_output_contains -- "SIGTERM"
}

@test "help: no verb prints usage" {
	lightvm
	# runc prints its help and exits 0.
	[ "$status" -eq 0 ]
	assert_output_contains -i "usage"
}
