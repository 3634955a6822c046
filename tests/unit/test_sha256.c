/* SHA-256 against the FIPS 180-4 / NIST example vectors. */
#include "../../lib/sha256.h"
#include "tap.h"

#include <stdlib.h>

static void hex_of(const void *data, size_t len, char hex[65])
{
	uint8_t d[LV_SHA256_LEN];

	lv_sha256(data, len, d);
	lv_sha256_hex(d, hex);
}

int main(void)
{
	char hex[65];
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct lv_sha256 s;
	uint8_t d[LV_SHA256_LEN];
	char *million;
	size_t i;

	hex_of("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty message");
	hex_of("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "\"abc\"");
	hex_of(m448, strlen(m448), hex);
	is_str(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "448-bit message");

	million = malloc(1000000);
	ok(million != NULL, "allocated 1e6 bytes");
	if (million) {
		memset(million, 'a', 1000000);
		hex_of(million, 1000000, hex);
		is_str(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		       "one million 'a' in one update");
		/* Odd chunk sizes exercise the partial-block buffering. */
		lv_sha256_init(&s);
		for (i = 0; i < 1000000;) {
			size_t n = 1 + (i * 7) % 131;
			if (n > 1000000 - i)
				n = 1000000 - i;
			lv_sha256_update(&s, million + i, n);
			i += n;
		}
		lv_sha256_final(&s, d);
		lv_sha256_hex(d, hex);
		is_str(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		       "one million 'a' in uneven chunks");
		free(million);
	}
	/* 55, 56, 63, 64 byte messages straddle the padding boundary. */
	{
		static const struct { size_t n; const char *hex; } v[] = {
			{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
			{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
			{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
			{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		};
		char a[64];
		memset(a, 'a', sizeof(a));
		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			hex_of(a, v[i].n, hex);
			is_str(hex, v[i].hex, "%zu x 'a' (padding boundary)", v[i].n);
		}
	}
	return tap_done();
}
