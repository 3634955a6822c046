/* The static guest init linked into the runtime (runtime/guest_blob.S). */
#ifndef RT_GUEST_BLOB_H
#define RT_GUEST_BLOB_H

extern const unsigned char rt_guest_init_start[];
extern const unsigned char rt_guest_init_end[];

#define RT_GUEST_INIT_PATH ".lightvm/init"

#endif
