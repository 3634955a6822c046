/* vmm/serial: the 8250/16550A UART as Linux's 8250 driver probes and uses
 * it (IER probe, loopback, FIFO detection and the variant probes, the THRE
 * re-assert and TX-enable tests of serial8250_do_startup), DLAB, line
 * buffering into a pipe or socket, the THRE interrupt through an eventfd,
 * and a host log that never stalls the guest.  Needs no /dev/kvm. */
#include "../../vmm/serial.h"
#include "tap.h"

#include <fcntl.h>
#include <linux/serial_reg.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct rig {
	struct vmm_serial *s;
	int rd, wr; /* pipe: the UART writes wr, the test reads rd */
	int efd;
};

static uint8_t in(struct rig *r, uint16_t off)
{
	uint8_t v = 0x5a;

	if (vmm_serial_pio(r->s, off, false, &v, 1) != 0)
		printf("# read of offset %u failed\n", off);
	return v;
}

static void out(struct rig *r, uint16_t off, uint8_t v)
{
	if (vmm_serial_pio(r->s, off, true, &v, 1) != 0)
		printf("# write of offset %u failed\n", off);
}

static void puts_uart(struct rig *r, const char *str)
{
	while (*str)
		out(r, UART_TX, (uint8_t)*str++);
}

/* Interrupt edges signalled since the last call (the eventfd counter). */
static uint64_t irqs(struct rig *r)
{
	uint64_t n = 0;

	if (read(r->efd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return 0;
	return n;
}

static ssize_t drain(struct rig *r, char *buf, size_t len)
{
	ssize_t n = read(r->rd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

static int rig_open(struct rig *r)
{
	struct lv_error *err = NULL;
	int p[2];

	memset(r, 0, sizeof(*r));
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	r->rd = p[0];
	r->wr = p[1];
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0 || vmm_serial_create(r->wr, r->efd, &r->s, &err) < 0) {
		printf("# rig: %s\n", err ? err->msg : "eventfd");
		lv_error_free(&err);
		return -1;
	}
	return 0;
}

static void rig_close(struct rig *r)
{
	vmm_serial_destroy(&r->s);
	close(r->rd);
	close(r->wr);
	close(r->efd);
}

/* autoconfig() in drivers/tty/serial/8250/8250_port.c, step by step. */
static void test_linux_probe(void)
{
	struct rig r;
	uint8_t save_ier, save_mcr, save_lcr, iir, s1, s2;

	if (rig_open(&r) < 0) {
		ok(0, "rig");
		return;
	}
	/* Existence: IER must hold 0 and 0x0f. */
	save_ier = in(&r, UART_IER);
	out(&r, UART_IER, 0);
	s1 = in(&r, UART_IER) & 0x0f;
	out(&r, UART_IER, 0x0f);
	s2 = in(&r, UART_IER) & 0x0f;
	out(&r, UART_IER, save_ier);
	ok(s1 == 0 && s2 == 0x0f, "IER test: 0 then 0x0f read back (%02x %02x)", s1, s2);

	/* Loopback: MCR = LOOP | OUT2 | RTS must show DCD | CTS in MSR. */
	save_mcr = in(&r, UART_MCR);
	save_lcr = in(&r, UART_LCR);
	out(&r, UART_MCR, UART_MCR_LOOP | 0x0a);
	s1 = in(&r, UART_MSR) & 0xf0;
	out(&r, UART_MCR, save_mcr);
	ok(s1 == 0x90, "loopback test: MSR & 0xf0 == 0x90 (%02x)", s1);
	out(&r, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	s1 = in(&r, UART_MSR) & 0xf0;
	out(&r, UART_MCR, save_mcr);
	ok(s1 == (UART_MSR_DSR | UART_MSR_RI), "loopback: DTR->DSR, OUT1->RI (%02x)", s1);
	ok((in(&r, UART_MSR) & 0xb0) == 0xb0, "out of loopback: DCD, DSR, CTS asserted");

	/* Type: EFR poke under LCR=0xbf (lands in FCR here), FCR=1, IIR. */
	out(&r, UART_LCR, UART_LCR_CONF_MODE_B);
	out(&r, UART_EFR, 0);
	out(&r, UART_LCR, 0);
	out(&r, UART_FCR, UART_FCR_ENABLE_FIFO);
	iir = in(&r, UART_IIR);
	ok((iir >> 6) == 3, "IIR bits 7:6 = 3 after FCR=1: a 16550A (%02x)", iir);

	/* autoconfig_16550a() with the variant probes compiled in. */
	out(&r, UART_LCR, UART_LCR_CONF_MODE_A);
	ok(in(&r, UART_EFR) != 0, "no EFR under DLAB (not an ST16C650V1)");
	out(&r, UART_LCR, UART_LCR_CONF_MODE_B);
	ok(in(&r, UART_EFR) != 0, "no EFR under LCR=0xbf (not an ST16C650V2/TI16C752)");
	out(&r, UART_LCR, 0);
	s1 = in(&r, UART_MCR);
	out(&r, UART_LCR, 0xe0);
	s2 = in(&r, 0x02);
	out(&r, UART_LCR, 0);
	out(&r, UART_MCR, s1 ^ UART_MCR_LOOP);
	out(&r, UART_LCR, 0xe0);
	iir = in(&r, 0x02);
	out(&r, UART_LCR, 0);
	out(&r, UART_MCR, s1);
	ok(!((s2 ^ s1) & UART_MCR_LOOP) && !((iir ^ s1) & UART_MCR_LOOP),
	   "not a NatSemi SuperIO: bank-2 EXCR1 does not follow MCR.LOOP");
	out(&r, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	s1 = in(&r, UART_IIR) >> 5;
	out(&r, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(&r, UART_LCR, UART_LCR_CONF_MODE_A);
	out(&r, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	s2 = in(&r, UART_IIR) >> 5;
	out(&r, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(&r, UART_LCR, 0);
	ok(s1 == 6 && s2 == 6, "64-byte FIFO mode not reflected: not a TI16750 (%d %d)", s1, s2);
	out(&r, UART_IER, 0x40);
	ok(!(in(&r, UART_IER) & 0x40), "IER bit 6 (UUE) does not stick: not an XScale");
	out(&r, UART_IER, 0);

	out(&r, UART_LCR, save_lcr);
	ok(in(&r, UART_LCR) == save_lcr, "LCR restored (%02x)", save_lcr);
	/* serial8250_do_startup(): "LSR safety check", and no receive data. */
	ok(in(&r, UART_LSR) == (UART_LSR_THRE | UART_LSR_TEMT), "LSR: THRE|TEMT, no DR, no errors");
	ok(in(&r, UART_RX) == 0, "RBR reads 0 (no input)");
	out(&r, UART_SCR, 0x55);
	s1 = in(&r, UART_SCR);
	out(&r, UART_SCR, 0xaa);
	ok(s1 == 0x55 && in(&r, UART_SCR) == 0xaa, "scratch register holds 0x55 and 0xaa");
	out(&r, UART_FCR, 0);
	ok(in(&r, UART_IIR) == UART_IIR_NO_INT, "FIFOs off: IIR 0x01");
	ok(irqs(&r) == 0, "no interrupt during the probe (OUT2 never set)");
	rig_close(&r);
}

static void test_dlab(void)
{
	struct rig r;
	char buf[64];

	if (rig_open(&r) < 0) {
		ok(0, "rig");
		return;
	}
	out(&r, UART_IER, UART_IER_THRI);
	out(&r, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	ok(in(&r, UART_DLL) == 1 && in(&r, UART_DLM) == 0, "divisor latch at reset: 1 (115200 baud)");
	out(&r, UART_DLL, 0x0c);
	out(&r, UART_DLM, 0x80);
	out(&r, UART_TX, 'X'); /* DLAB: goes to DLL, not the line */
	out(&r, UART_DLL, 0x0c);
	ok(in(&r, UART_DLL) == 0x0c && in(&r, UART_DLM) == 0x80, "DLL/DLM hold 0x0c/0x80 under DLAB");
	out(&r, UART_LCR, UART_LCR_WLEN8);
	ok(in(&r, UART_IER) == UART_IER_THRI, "without DLAB offset 1 is IER again, untouched");
	out(&r, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	ok(in(&r, UART_DLM) == 0x80, "DLM kept across DLAB toggles");
	out(&r, UART_LCR, UART_LCR_WLEN8);
	vmm_serial_flush(r.s);
	ok(drain(&r, buf, sizeof(buf)) < 0, "the byte written under DLAB was not transmitted");
	rig_close(&r);
}

static void test_output(void)
{
	struct vmm_serial_stats st;
	struct rig r;
	char buf[2048], big[VMM_SERIAL_LINE_MAX + 100];
	ssize_t n;

	if (rig_open(&r) < 0) {
		ok(0, "rig");
		return;
	}
	puts_uart(&r, "Linux version 6.1");
	ok(drain(&r, buf, sizeof(buf)) < 0, "no newline yet: nothing written");
	puts_uart(&r, "\r\n");
	n = drain(&r, buf, sizeof(buf));
	is_str(buf, "Linux version 6.1\r\n", "the line arrives whole on '\\n' (%zd bytes)", n);
	puts_uart(&r, "a\nb\n");
	n = drain(&r, buf, sizeof(buf));
	is_str(buf, "a\nb\n", "two short lines");
	puts_uart(&r, "# ");
	vmm_serial_flush(r.s);
	n = drain(&r, buf, sizeof(buf));
	is_str(buf, "# ", "a prompt comes out on flush");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	puts_uart(&r, big);
	n = drain(&r, buf, sizeof(buf));
	ok(n == VMM_SERIAL_LINE_MAX, "a full buffer is written without a newline (%zd bytes)", n);
	vmm_serial_flush(r.s);
	n = drain(&r, buf, sizeof(buf));
	ok(n == 99, "the rest on flush (%zd)", n);

	out(&r, UART_MCR, UART_MCR_LOOP);
	puts_uart(&r, "loop\n");
	out(&r, UART_MCR, 0);
	vmm_serial_flush(r.s);
	ok(drain(&r, buf, sizeof(buf)) < 0, "loopback bytes do not reach the line");

	puts_uart(&r, "tail");
	vmm_serial_get_stats(r.s, &st);
	ok(st.tx_bytes == 19 + 4 + 2 + sizeof(big) - 1 + 4 && st.dropped_bytes == 0 && st.out_errno == 0,
	   "stats: %llu bytes transmitted, none dropped", (unsigned long long)st.tx_bytes);
	vmm_serial_destroy(&r.s);
	ok(r.s == NULL, "destroy resets the pointer");
	n = drain(&r, buf, sizeof(buf));
	is_str(buf, "tail", "destroy flushes the partial line");
	vmm_serial_destroy(&r.s);
	rig_close(&r);
}

static void test_discard_and_args(void)
{
	struct vmm_serial *s = NULL;
	struct lv_error *err = NULL;
	struct vmm_serial_stats st;
	uint8_t v[4] = { 0 };

	ok(vmm_serial_create(-1, -1, &s, &err) == 0 && s, "out_fd -1, irq_fd -1");
	v[0] = 'z';
	vmm_serial_pio(s, UART_TX, true, v, 1);
	v[0] = '\n';
	vmm_serial_pio(s, UART_TX, true, v, 1);
	v[0] = UART_IER_THRI;
	vmm_serial_pio(s, UART_IER, true, v, 1);
	v[0] = UART_MCR_OUT2;
	vmm_serial_pio(s, UART_MCR, true, v, 1);
	vmm_serial_get_stats(s, &st);
	ok(st.tx_bytes == 2 && st.out_bytes == 0 && st.irqs == 0, "bytes discarded, no interrupt fd touched");

	ok(vmm_serial_pio(s, 8, false, v, 1) == -EINVAL, "offset 8: EINVAL");
	ok(vmm_serial_pio(s, 0, false, v, 3) == -EINVAL, "size 3: EINVAL");
	ok(vmm_serial_pio(s, 0, false, NULL, 1) == -EINVAL, "NULL data: EINVAL");
	ok(vmm_serial_pio(NULL, 0, false, v, 1) == -EINVAL, "NULL UART: EINVAL");

	v[0] = 0x33;
	vmm_serial_pio(s, UART_SCR, true, v, 1);
	memset(v, 0, sizeof(v));
	ok(vmm_serial_pio(s, UART_SCR, false, v, 4) == 0 && v[0] == 0x33 && v[1] == 0xff && v[2] == 0xff &&
		   v[3] == 0xff,
	   "a 4-byte read at offset 7: SCR, then open bus");
	memset(v, 0, sizeof(v));
	ok(vmm_serial_pio(s, UART_LCR, false, v, 2) == 0 && v[0] == UART_LCR_WLEN8 &&
		   v[1] == UART_MCR_OUT2,
	   "a 2-byte read at offset 3: LCR (8N1 at reset) and MCR");
	vmm_serial_destroy(&s);
	ok(vmm_serial_create(-1, -1, NULL, &err) == -EINVAL && err, "NULL out pointer: EINVAL");
	lv_error_free(&err);
}

static void test_thre_irq(void)
{
	struct vmm_serial_stats st;
	struct rig r;
	uint8_t iir1, iir2, lsr;
	uint64_t n;

	if (rig_open(&r) < 0) {
		ok(0, "rig");
		return;
	}
	/* serial8250_do_startup(): THRE re-assert test, before OUT2 is set. */
	out(&r, UART_IER, UART_IER_THRI);
	iir1 = in(&r, UART_IIR);
	out(&r, UART_IER, 0);
	out(&r, UART_IER, UART_IER_THRI);
	iir2 = in(&r, UART_IIR);
	out(&r, UART_IER, 0);
	ok(!(iir1 & UART_IIR_NO_INT) && !(iir2 & UART_IIR_NO_INT),
	   "THRE asserted on enable and re-asserted after IER toggles (%02x %02x): no UART_BUG_THRE", iir1,
	   iir2);
	ok(irqs(&r) == 0, "OUT2 clear: the interrupt does not leave the UART");

	out(&r, UART_LCR, UART_LCR_WLEN8);
	out(&r, UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	/* The TX-enable test. */
	out(&r, UART_IER, UART_IER_THRI);
	lsr = in(&r, UART_LSR);
	iir1 = in(&r, UART_IIR);
	out(&r, UART_IER, 0);
	ok((lsr & UART_LSR_TEMT) && !(iir1 & UART_IIR_NO_INT), "TX-enable test passes: no UART_BUG_TXEN");
	ok(irqs(&r) == 1, "with OUT2: one interrupt edge for enabling THRI");
	out(&r, UART_FCR, UART_FCR_ENABLE_FIFO);

	/* A tty write: start_tx sets THRI, the handler reads IIR, fills THR. */
	out(&r, UART_IER, UART_IER_THRI);
	ok(irqs(&r) == 1, "start_tx: THRI enabled, THR empty -> interrupt");
	iir1 = in(&r, UART_IIR);
	ok(iir1 == 0xc2, "IIR reports THRE with FIFOs on (%02x)", iir1);
	iir2 = in(&r, UART_IIR);
	ok(iir2 == 0xc1, "reading IIR acknowledged it (%02x)", iir2);
	ok(irqs(&r) == 0, "no edge on acknowledge");
	puts_uart(&r, "sh\n");
	n = irqs(&r);
	ok(n == 3, "one edge per transmitted byte (%llu)", (unsigned long long)n);
	ok(in(&r, UART_IIR) == 0xc2, "THRE pending again after the last byte");
	out(&r, UART_TX, 'x');
	out(&r, UART_IER, 0); /* stop_tx */
	ok(in(&r, UART_IIR) == 0xc1, "THRI disabled: IIR no longer reports THRE");
	irqs(&r);

	/* The console path: IER cleared, polled writes, IER restored. */
	puts_uart(&r, "printk\n");
	ok(irqs(&r) == 0, "polled console writes with IER 0: no interrupts");
	out(&r, UART_IER, UART_IER_THRI);
	ok(irqs(&r) == 1, "restoring IER with THRI kicks the tty writer");
	in(&r, UART_IIR);
	out(&r, UART_MCR, UART_MCR_OUT2 | UART_MCR_LOOP);
	out(&r, UART_TX, 'l');
	ok(irqs(&r) == 0, "loopback: the interrupt is not routed out");
	out(&r, UART_MCR, UART_MCR_OUT2);
	ok(irqs(&r) == 1, "leaving loopback with THRE pending raises the line");
	out(&r, UART_MCR, 0);
	out(&r, UART_MCR, UART_MCR_OUT2);
	ok(irqs(&r) == 1, "OUT2 off and on again with THRE pending: a new edge");

	vmm_serial_get_stats(r.s, &st);
	ok(st.irqs == 9, "stats count the edges (%llu)", (unsigned long long)st.irqs);
	rig_close(&r);
}

/* The host side misbehaving must never stall or kill the guest. */
static void test_stalled_host(void)
{
	struct vmm_serial_stats st;
	struct vmm_serial *s = NULL;
	struct lv_error *err = NULL;
	static char junk[1 << 16];
	int p[2], sv[2];
	ssize_t w;
	uint8_t c;
	int i;

	/* A socket whose peer is gone: send(MSG_NOSIGNAL) returns EPIPE where
	 * write() would kill this process with SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    vmm_serial_create(sv[0], -1, &s, &err) < 0) {
		ok(0, "socketpair rig");
		return;
	}
	close(sv[1]);
	for (i = 0; i < 3; i++) {
		c = i < 2 ? 'q' : '\n';
		vmm_serial_pio(s, UART_TX, true, &c, 1);
	}
	vmm_serial_get_stats(s, &st);
	ok(st.dropped_bytes == 3 && st.out_errno == EPIPE, "socket peer closed: line dropped, EPIPE, no SIGPIPE");
	c = '\n';
	vmm_serial_pio(s, UART_TX, true, &c, 1);
	vmm_serial_get_stats(s, &st);
	ok(st.dropped_bytes == 4, "and later lines are dropped without trying");
	vmm_serial_destroy(&s);
	close(sv[0]);

	/* A blocking socket that is full: MSG_DONTWAIT keeps us going. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    vmm_serial_create(sv[0], -1, &s, &err) < 0) {
		ok(0, "socketpair rig");
		return;
	}
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	while (send(sv[0], junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	for (i = 0; i < 2000; i++) {
		c = (i % 50) == 49 ? '\n' : 'f';
		vmm_serial_pio(s, UART_TX, true, &c, 1);
	}
	vmm_serial_get_stats(s, &st);
	ok(st.dropped_bytes == 2000 && st.out_errno == EAGAIN, "full socket: %llu bytes dropped, no stall",
	   (unsigned long long)st.dropped_bytes);
	while (recv(sv[1], junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	for (i = 0; i < 4; i++) {
		c = (uint8_t)"ok\r\n"[i];
		vmm_serial_pio(s, UART_TX, true, &c, 1);
	}
	w = recv(sv[1], junk, sizeof(junk), MSG_DONTWAIT);
	ok(w == 4, "once drained, lines flow again (%zd)", w);
	vmm_serial_destroy(&s);
	close(sv[0]);
	close(sv[1]);

	/* A pipe with no reader: EPIPE (SIGPIPE is the process's to ignore). */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0 || vmm_serial_create(p[1], -1, &s, &err) < 0) {
		ok(0, "pipe rig");
		return;
	}
	close(p[0]);
	c = '\n';
	vmm_serial_pio(s, UART_TX, true, &c, 1);
	vmm_serial_get_stats(s, &st);
	ok(st.dropped_bytes == 1 && st.out_errno == EPIPE, "pipe reader gone: dropped, EPIPE");
	vmm_serial_destroy(&s);
	close(p[1]);
	lv_error_free(&err);
}

#define WRITERS 4
#define LINES   500

static void *writer(void *arg)
{
	struct vmm_serial *s = arg;
	const char *line = "0123456789abcdef\n";
	int i;

	for (i = 0; i < LINES; i++)
		for (const char *c = line; *c; c++) {
			uint8_t b = (uint8_t)*c;

			vmm_serial_pio(s, UART_TX, true, &b, 1);
		}
	return NULL;
}

/* vCPU threads writing at once: the lock keeps the count exact. */
static void test_threads(void)
{
	struct vmm_serial_stats st;
	struct vmm_serial *s = NULL;
	struct lv_error *err = NULL;
	pthread_t t[WRITERS];
	int i, started = 0;

	if (vmm_serial_create(-1, -1, &s, &err) < 0) {
		ok(0, "create");
		return;
	}
	for (i = 0; i < WRITERS; i++)
		if (pthread_create(&t[i], NULL, writer, s) == 0)
			started++;
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	vmm_serial_get_stats(s, &st);
	ok(started == WRITERS && st.tx_bytes == (uint64_t)WRITERS * LINES * 17,
	   "%d threads x %d lines: %llu bytes counted", started, LINES, (unsigned long long)st.tx_bytes);
	vmm_serial_destroy(&s);
}

int main(void)
{
	test_linux_probe();
	test_dlab();
	test_output();
	test_discard_and_args();
	test_thre_irq();
	test_stalled_host();
	test_threads();
	return tap_done();
}
