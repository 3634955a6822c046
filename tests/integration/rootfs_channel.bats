#!/usr/bin/env bats
# "rootfs_delivery": "channel": the VM boots the shared init-only shell
# initramfs and receives the container's rootfs over the control channel
# (ROOTFS frames, noxs/README.md) before its page.  A representative subset
# of run.bats with that setting.

load helpers

function setup() {
	setup_lightvm_test
	local cfg
	cfg=$(<"$LIGHTVM_CONFIG")
	printf '%s' "${cfg%\}*}, \"rootfs_delivery\": \"channel\"}" >"$LIGHTVM_CONFIG"
}

@test "rootfs channel: exit status, stdout and stderr kept apart (one VM)" {
	requires root lightvm kernel
	set_cmd sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'
	lightvm_split run --bundle "$BUNDLE" rc0 </dev/null
	[ "$status" -eq 3 ]
	[ "$stdout" = "to-stdout" ]
	[ "$stderr" = "to-stderr" ]
	[ ! -e "$ROOT/rc0" ]
}

@test "rootfs channel: bundle files, a symlink, env and cwd arrive; the root is the received one (one VM)" {
	requires root lightvm kernel
	writable_rootfs
	mkdir -p "$BUNDLE/rootfs/data/sub"
	printf 'hello from the bundle\n' >"$BUNDLE/rootfs/data/sub/file.txt"
	chmod 0604 "$BUNDLE/rootfs/data/sub/file.txt"
	chown 1234:4321 "$BUNDLE/rootfs/data/sub/file.txt"
	ln -s sub/file.txt "$BUNDLE/rootfs/data/link"
	# Bigger than one ROOTFS frame, so the stream spans several.
	head -c 700000 /dev/urandom >"$BUNDLE/rootfs/data/big"
	local sum
	sum=$(md5sum <"$BUNDLE/rootfs/data/big")
	update_config '
c["process"]["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar baz"]
c["process"]["cwd"] = "/data/sub"'
	set_cmd sh -c 'cat /data/link; echo "FOO=$FOO"; echo "cwd=$(pwd)"; stat -c "%a %u %g" /data/sub/file.txt; readlink /data/link; md5sum </data/big; test -e /.lightvm/init && echo has-init; echo done'
	lightvm_split run --bundle "$BUNDLE" rc1 </dev/null
	[ "$status" -eq 0 ]
	grep -qx 'hello from the bundle' <<<"$stdout"
	grep -qx 'FOO=bar baz' <<<"$stdout"
	grep -qx 'cwd=/data/sub' <<<"$stdout"
	grep -qx '604 1234 4321' <<<"$stdout"
	grep -qx 'sub/file.txt' <<<"$stdout"
	grep -qxF "$sum" <<<"$stdout"
	# The shell's init is not in the container's root.
	! grep -qx 'has-init' <<<"$stdout" || fail "the guest init is visible in the container's root"
	grep -qx 'done' <<<"$stdout"
}

@test "rootfs channel: a read-only root refuses writes (one VM)" {
	requires root lightvm kernel
	update_config 'c["root"]["readonly"] = True'
	set_cmd sh -c 'if touch /newfile 2>/dev/null; then echo writable; else echo readonly; fi; touch /tmp/ok && echo tmp-ok'
	lightvm_split run --bundle "$BUNDLE" rc2 </dev/null
	[ "$status" -eq 0 ]
	grep -qx 'readonly' <<<"$stdout"
	grep -qx 'tmp-ok' <<<"$stdout"
}

@test "rootfs channel: a missing executable fails create with the guest's reason" {
	requires root lightvm kernel
	set_cmd /no/such/binary
	lightvm run --bundle "$BUNDLE" rc3
	[ "$status" -ne 0 ]
	assert_output_contains "/no/such/binary"
}

@test "rootfs channel: create, start, delete; the shell initramfs is shared (one VM)" {
	requires root lightvm kernel
	set_cmd sh -c 'exit 0'
	lightvm create --bundle "$BUNDLE" rc4
	[ "$status" -eq 0 ]
	[ "$(container_status rc4)" = created ]
	lightvm start rc4
	[ "$status" -eq 0 ]
	wait_for_status rc4 stopped 30
	lightvm delete rc4
	[ "$status" -eq 0 ]
	# The cache holds the shell (compressed) and the rootfs archive
	# (uncompressed), not an initramfs with the rootfs in it.
	ls "$LIGHTVM_TEST_SUITE_DIR/cache"/*.cpio >/dev/null
}

@test "rootfs channel: an unknown rootfs_delivery is refused" {
	requires lightvm
	local cfg
	cfg=$(<"$LIGHTVM_CONFIG")
	printf '%s' "${cfg%\}*}, \"rootfs_delivery\": \"carrier-pigeon\"}" >"$LIGHTVM_CONFIG"
	lightvm run --bundle "$BUNDLE" rc5
	[ "$status" -ne 0 ]
	assert_output_contains "rootfs_delivery"
}
