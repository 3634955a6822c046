# lightvm — one Makefile: all, kernel, check, bench, install, uninstall, clean, deps.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
GUEST_CC ?= $(shell command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc || echo $(CC))
FUZZ_CC ?= clang
VERSION := 0.1.0
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Werror -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
	-Wundef -Wwrite-strings -Wshadow -Wno-unused-parameter
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -DLV_VERSION=\"$(VERSION)\" -DLV_COMMIT=\"$(GIT_COMMIT)\"
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
LIGHTVM_LDFLAGS :=
else
# lightvm itself is linked static-pie: every container's monitor is a
# fork of it that lives as long as the container, and a static binary
# touches ~0.85 MiB less than one that maps six shared libraries (1.36 MiB
# RSS against 2.2 MiB), while keeping ASLR.
LIGHTVM_LDFLAGS ?= -static-pie
endif
LDLIBS := -ljansson -lz -lseccomp -lcap -lpthread

LIB_SRC := $(wildcard lib/*.c) $(wildcard noxs/*.c) $(wildcard runtime/*.c) $(wildcard vmm/*.c)
# The shim's protobuf/ttrpc codec joins the library (its unit tests and
# fuzzer link it from there); the rest of shim/ is the shim binary's own.
SHIM_CODEC_SRC := shim/pb.c shim/ttrpc.c shim/msg.c
LIB_SRC += $(SHIM_CODEC_SRC)
SHIM_SRC := $(filter-out $(SHIM_CODEC_SRC),$(wildcard shim/*.c))
SHIM_OBJ := $(SHIM_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_SRC := $(wildcard cmd/*.c)
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/%.o)
GUEST_SRC := $(wildcard guest/*.c) $(wildcard noxs/*.c) lib/error.c
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 20

.PHONY: all kernel check check-installed unit fuzz integration bench install uninstall clean deps demo demo-installed lab lab-check
all: $(BUILD)/lightvm $(BUILD)/containerd-shim-lightvm-v2

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/liblightvm.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# The guest init is a static binary, embedded into lightvm (as kvmtool does),
# so the runtime never looks for it on disk.
$(BUILD)/guest/init: $(GUEST_SRC) $(wildcard guest/*.h noxs/*.h lib/*.h)
	@mkdir -p $(dir $@)
	$(GUEST_CC) -std=gnu11 $(WARN) -D_GNU_SOURCE -Os -static -s -o $@ $(GUEST_SRC)

$(BUILD)/guest_blob.o: $(BUILD)/guest/init runtime/guest_blob.S
	$(CC) -c -DGUEST_INIT_PATH=\"$(BUILD)/guest/init\" runtime/guest_blob.S -o $@

$(BUILD)/lightvm: $(CMD_OBJ) $(BUILD)/liblightvm.a $(BUILD)/guest_blob.o
	$(CC) $(LDFLAGS) $(LIGHTVM_LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/guest_blob.o $(BUILD)/liblightvm.a $(LDLIBS)

$(BUILD)/containerd-shim-lightvm-v2: $(SHIM_OBJ) $(BUILD)/liblightvm.a
	$(CC) $(LDFLAGS) -o $@ $(SHIM_OBJ) $(BUILD)/liblightvm.a -ljansson

kernel:
	tinyx-kernel/build.sh $(BUILD)/bzImage

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(BUILD)/liblightvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/liblightvm.a $(LDLIBS)

# Fuzzers link a clang-built, instrumented copy of the library; as an archive
# only the objects a target needs are pulled in.
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzzobj/%.o)
$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c $< -o $@
$(BUILD)/libfuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libfuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $< $(BUILD)/libfuzz.a $(LDLIBS)

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

fuzz: $(FUZZ_BIN)
	@tests/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

integration: all kernel
	@tests/run-integration.sh

# check and demo stand alone on a fresh machine: they install what they need
# first (a no-op once installed), then build in a second make so nothing
# compiles before its headers exist.
check: deps
	@$(MAKE) --no-print-directory check-installed

check-installed: all kernel $(UNIT_BIN) $(FUZZ_BIN)
	@tests/check.sh

# Start-up against QEMU alone and runc (here, TCG when there is no vmx/svm),
# then the VMM benchmark: kvm backend against qemu backend and QEMU, all on
# KVM (inside the lab host when there is no vmx/svm); then the pool: warm
# pool vs cold vs runc, qemu natively and kvm (in the lab host likewise);
# density; then docker and podman with --runtime lightvm (warm pool) vs runc.
bench: all kernel
	@tests/bench/run.sh
	@tests/bench/vmm.sh
	@tests/bench/pool.sh
	@BENCH_BACKEND=kvm tests/bench/pool.sh
	@tests/bench/density.sh
	@tests/bench/density_kvm.sh
	@tests/bench/engines.sh

demo: deps
	@$(MAKE) --no-print-directory demo-installed

demo-installed: all kernel
	@tests/demo.sh

# The lab host: a TCG VM with emulated AMD SVM, where a nested /dev/kvm runs
# KVM guests (tests/lab/README.md).  `check` runs the kvm backend's suite in
# it when this host has no vmx/svm.
lab:
	tests/lab/prepare.sh

lab-check: all kernel
	tests/lab/selftest.sh 5

install: all
	install -D -m 0755 $(BUILD)/lightvm $(DESTDIR)$(PREFIX)/bin/lightvm
	ln -sf lightvm $(DESTDIR)$(PREFIX)/bin/lightvm-poold
	install -m 0755 $(BUILD)/containerd-shim-lightvm-v2 $(DESTDIR)$(PREFIX)/bin/containerd-shim-lightvm-v2
	if [ -f $(BUILD)/bzImage ]; then install -D -m 0644 $(BUILD)/bzImage $(DESTDIR)$(PREFIX)/share/lightvm/bzImage; fi
	if [ -f $(BUILD)/vmlinux ]; then install -D -m 0644 $(BUILD)/vmlinux $(DESTDIR)$(PREFIX)/share/lightvm/vmlinux; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/containerd-shim-lightvm-v2
	rm -f $(DESTDIR)$(PREFIX)/bin/lightvm $(DESTDIR)$(PREFIX)/bin/lightvm-poold $(DESTDIR)$(PREFIX)/share/lightvm/bzImage $(DESTDIR)$(PREFIX)/share/lightvm/vmlinux
	-rmdir $(DESTDIR)$(PREFIX)/share/lightvm

clean:
	rm -rf $(BUILD)

DEB_PACKAGES := build-essential clang libclang-rt-14-dev musl-tools libjansson-dev zlib1g-dev \
	libseccomp-dev libcap-dev qemu-system-x86 linux-source-6.1 flex bison bc libelf-dev \
	libssl-dev xz-utils cpio busybox-static bats parallel runc podman procps \
	docker.io containerd containernetworking-plugins iptables iproute2 python3
# docker.io and containerd ship init scripts that would start their daemons
# on install: a temporary /usr/sbin/policy-rc.d that exits 101 forbids it
# (the tests start their own, with private directories).  It goes again,
# also when the install fails, unless it was there before.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: missing packages ($$missing): run as root (apt-get)" >&2; exit 1; fi; \
		echo "installing:" $$missing; \
		prc=; \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			prc=/usr/sbin/policy-rc.d; \
			trap 'rm -f /usr/sbin/policy-rc.d' EXIT INT TERM; \
			printf '#!/bin/sh\nexit 101\n' >$$prc && chmod 0755 $$prc || exit 1; \
		fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
		rc=$$?; \
		[ -z "$$prc" ] || rm -f "$$prc"; \
		exit $$rc; \
	fi

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(SHIM_OBJ:.o=.d)
