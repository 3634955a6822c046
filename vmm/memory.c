/* Guest RAM backed by a sealed memfd; see memory.h for the layout. */
#include "memory.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>


static void layout(struct vmm_memory *mem)
{
	uint64_t low = mem->size < VMM_MMIO_HOLE_START ? mem->size : VMM_MMIO_HOLE_START;

	mem->regions[0] = (struct vmm_mem_region){ .gpa = 0, .size = low, .hva = mem->base };
	mem->nr_regions = 1;
	if (mem->size > low) {
		mem->regions[1] = (struct vmm_mem_region){
			.gpa = VMM_MMIO_HOLE_END,
			.size = mem->size - low,
			.hva = mem->base + low,
		};
		mem->nr_regions = 2;
	}
}

int vmm_memory_create(uint64_t size, struct vmm_memory **out, struct lv_error **err)
{
	struct vmm_memory *mem;
	int r;

	if (size == 0 || size % VMM_PAGE_SIZE || size > VMM_MEM_MAX_SIZE)
		return lv_err_msg(err, EINVAL,
				  "guest RAM size %llu: must be a non-zero multiple of %llu up to %llu bytes",
				  (unsigned long long)size, VMM_PAGE_SIZE, VMM_MEM_MAX_SIZE);
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return lv_err(err, ENOMEM, "allocating guest memory state");
	mem->size = size;

	mem->memfd = memfd_create("lightvm-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mem->memfd < 0) {
		r = lv_err(err, errno, "memfd_create for guest RAM");
		goto fail_free;
	}
	if (ftruncate(mem->memfd, (off_t)size) < 0) {
		r = lv_err(err, errno, "sizing guest RAM to %llu bytes", (unsigned long long)size);
		goto fail_close;
	}
	/* Whoever else ever gets this fd (a vhost-user backend, say) must not
	 * be able to shrink it under us: access past the end would SIGBUS.
	 * Not F_SEAL_SEAL yet: a snapshot adds F_SEAL_WRITE (vmm_memory_seal). */
	if (fcntl(mem->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		r = lv_err(err, errno, "sealing guest RAM memfd");
		goto fail_close;
	}
	mem->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mem->memfd, 0);
	if (mem->base == MAP_FAILED) {
		mem->base = NULL;
		r = lv_err(err, errno, "mapping %llu bytes of guest RAM", (unsigned long long)size);
		goto fail_close;
	}
	/* Guest RAM has no place in a core dump of the monitor. */
	(void)madvise(mem->base, size, MADV_DONTDUMP);
	layout(mem);
	*out = mem;
	return 0;

fail_close:
	close(mem->memfd);
fail_free:
	free(mem);
	return r;
}

int vmm_memory_from_snapshot(int fd, uint64_t size, struct vmm_memory **out, struct lv_error **err)
{
	struct vmm_memory *mem;
	struct stat st;
	int seals;

	if (size == 0 || size % VMM_PAGE_SIZE || size > VMM_MEM_MAX_SIZE)
		return lv_err_msg(err, EINVAL, "snapshot RAM size %llu is not a page multiple up to %llu bytes",
				  (unsigned long long)size, VMM_MEM_MAX_SIZE);
	if (fstat(fd, &st) < 0)
		return lv_err(err, errno, "snapshot RAM: fstat");
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return lv_err_msg(err, EINVAL, "snapshot RAM: %lld bytes, the snapshot says %llu",
				  (long long)st.st_size, (unsigned long long)size);
	/* Shared read-only below our private copy: nobody may change it. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & VMM_SNAPSHOT_SEALS) != VMM_SNAPSHOT_SEALS)
		return lv_err_msg(err, EPERM, "snapshot RAM: not sealed against writes and resizing");
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return lv_err(err, ENOMEM, "allocating guest memory state");
	mem->size = size;
	mem->memfd = -1; /* the mapping keeps the file; writes stay ours */
	mem->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	if (mem->base == MAP_FAILED) {
		free(mem);
		return lv_err(err, errno, "mapping %llu bytes of snapshot RAM", (unsigned long long)size);
	}
	(void)madvise(mem->base, size, MADV_DONTDUMP);
	layout(mem);
	*out = mem;
	return 0;
}

int vmm_memory_seal(int fd, struct lv_error **err)
{
	if (fcntl(fd, F_ADD_SEALS, VMM_SNAPSHOT_SEALS) < 0)
		return lv_err(err, errno, "sealing snapshot RAM (is it still mapped writable?)");
	return 0;
}

int vmm_memory_register(const struct vmm_memory *mem, int vm_fd, struct lv_error **err)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct vmm_mem_region *reg = &mem->regions[i];
		struct kvm_userspace_memory_region kreg = {
			.slot = i,
			.guest_phys_addr = reg->gpa,
			.memory_size = reg->size,
			.userspace_addr = (uint64_t)(uintptr_t)reg->hva,
		};

		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &kreg) < 0)
			return lv_err(err, errno, "KVM_SET_USER_MEMORY_REGION slot %u [0x%llx, +0x%llx)", i,
				      (unsigned long long)reg->gpa, (unsigned long long)reg->size);
	}
	return 0;
}

void vmm_memory_destroy(struct vmm_memory **memp)
{
	struct vmm_memory *mem = memp ? *memp : NULL;

	if (!mem)
		return;
	if (mem->base)
		munmap(mem->base, mem->size);
	if (mem->memfd >= 0)
		close(mem->memfd);
	free(mem);
	*memp = NULL;
}

const struct vmm_mem_region *vmm_memory_region_of(const struct vmm_memory *mem, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct vmm_mem_region *reg = &mem->regions[i];

		if (gpa >= reg->gpa && gpa - reg->gpa < reg->size)
			return reg;
	}
	return NULL;
}

void *vmm_gpa_to_hva(const struct vmm_memory *mem, uint64_t gpa, uint64_t len)
{
	const struct vmm_mem_region *reg = vmm_memory_region_of(mem, gpa);
	uint64_t off;

	if (!reg)
		return NULL;
	off = gpa - reg->gpa; /* < reg->size, so the subtraction below cannot wrap */
	if (len > reg->size - off)
		return NULL;
	return reg->hva + off;
}

int vmm_memory_write(const struct vmm_memory *mem, uint64_t gpa, const void *src, uint64_t len,
		     struct lv_error **err)
{
	void *dst = vmm_gpa_to_hva(mem, gpa, len);

	if (!dst)
		return lv_err_msg(err, EFAULT, "guest range [0x%llx, +0x%llx) is not RAM",
				  (unsigned long long)gpa, (unsigned long long)len);
	memcpy(dst, src, len);
	return 0;
}

int vmm_memory_read(const struct vmm_memory *mem, uint64_t gpa, void *dst, uint64_t len,
		    struct lv_error **err)
{
	const void *src = vmm_gpa_to_hva(mem, gpa, len);

	if (!src)
		return lv_err_msg(err, EFAULT, "guest range [0x%llx, +0x%llx) is not RAM",
				  (unsigned long long)gpa, (unsigned long long)len);
	memcpy(dst, src, len);
	return 0;
}
