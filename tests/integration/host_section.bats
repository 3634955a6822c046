#!/usr/bin/env bats
# The device page's host section (noxs/README.md): before anything of the
# container runs, the guest init sets a stale clock to the host's and mixes a
# fresh seed into the kernel RNG, so that guests restored from one snapshot
# neither keep the template's clock nor share its RNG state.

load helpers

# With the QEMU backend the guest boots with its RTC in 2001: the stale clock
# a restored snapshot has, which only the page can correct.  (A cold guest
# otherwise reads the right time from the RTC or kvm-clock, and the clock
# check would pass without the page.)
function stale_rtc_qemu() {
	local qemu
	qemu=$(command -v qemu-system-x86_64) || fail "no qemu-system-x86_64" || return 1
	printf '#!/bin/sh\nexec %s "$@" -rtc base=2001-01-01T00:00:00\n' "$qemu" >"$TESTDIR/qemu-stale-rtc"
	chmod +x "$TESTDIR/qemu-stale-rtc"
	printf '{\n  "kernel": "%s",\n  "cache_dir": "%s",\n  "backend": "qemu",\n  "qemu": "%s"\n}\n' \
		"$LIGHTVM_KERNEL" "$LIGHTVM_TEST_SUITE_DIR/cache" "$TESTDIR/qemu-stale-rtc" >"$LIGHTVM_CONFIG"
}

@test "host section: the guest's clock is the host's, two guests' RNGs differ, init says so (two VMs)" {
	requires root lightvm kernel
	local stale= id before after gtime rnd console
	local -a rnds=()
	if [ "$LIGHTVM_BACKEND" = qemu ]; then
		stale_rtc_qemu
		stale=1
	fi
	set_cmd sh -c 'date +%s; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"; echo'
	# Two containers from the same bundle: the pair a template's clones are.
	for id in th1 th2; do
		before=$EPOCHSECONDS
		lightvm_split --debug run --keep --bundle "$BUNDLE" "$id"
		after=$EPOCHSECONDS
		[ "$status" -eq 0 ]
		gtime=${stdout%%$'\n'*}
		rnd=${stdout#*$'\n'}
		[[ $gtime =~ ^[0-9]+$ ]] || fail "$id: guest date printed '$gtime'"
		# The guest read its clock between our two readings (a second of
		# slack each side for the truncation to whole seconds).
		[ "$gtime" -ge $((before - 1)) ] && [ "$gtime" -le $((after + 1)) ] ||
			fail "$id: guest time $gtime is not within [$before, $after] of the host's"
		[[ $rnd =~ ^[0-9a-f]{32}$ ]] || fail "$id: /dev/urandom gave '$rnd'"
		rnds+=("$rnd")
		# The guest init's log (--debug): the page's host section was applied.
		console=$ROOT/$id/console.log
		grep -E 'lightvm-init: page: clock (set|kept) .*, rng reseeded' "$console" ||
			fail "$id: no 'page: clock ..., rng reseeded' line in $console"
		if [ -n "$stale" ]; then
			grep -E 'lightvm-init: page: clock set \(\+[0-9]+ ms\)' "$console" ||
				fail "$id: the stale RTC clock was not set from the page"
		fi
	done
	[ "${rnds[0]}" != "${rnds[1]}" ] || fail "two guests read the same bytes from /dev/urandom: ${rnds[0]}"
	lightvm delete th1
	[ "$status" -eq 0 ]
	lightvm delete th2
	[ "$status" -eq 0 ]
}
