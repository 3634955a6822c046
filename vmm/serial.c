/* 8250/16550A UART, transmit only (see serial.h). */
#include "serial.h"

#include <linux/serial_reg.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* MCR bits that exist on a 16550A (DTR, RTS, OUT1, OUT2, LOOP); AFE is a
 * 16750 bit and must read 0, or a variant probe could misfire. */
#define MCR_MASK 0x1f
/* IER bits that exist on a 16550A.  Linux's probe writes 0x0f and expects
 * 0x0f back; the XScale probe writes bit 6 and expects it not to stick. */
#define IER_MASK 0x0f
/* With no modem attached we still present a live line (carrier, data set
 * ready, clear to send), so a console configured with flow control does
 * not wait forever for CTS. */
#define MSR_IDLE (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)
/* 115200 baud from the 1.8432 MHz clock; a reset 16550 leaves the latch
 * undefined, any value will do until the driver programs it. */
#define DIVISOR_RESET 1
/* IIR bits 7:6 both set: "FIFOs enabled", the 16550A signature (a 16550
 * without the A sets only bit 7, an 8250/16450 neither). */
#define IIR_FIFOS 0xc0

struct vmm_serial {
	pthread_mutex_t lock;
	int out_fd;
	int irq_fd;
	bool out_is_socket; /* send() can avoid SIGPIPE and blocking per call */
	bool out_dead;      /* the reader is gone (EPIPE...): stop trying */

	uint8_t ier, lcr, mcr, scr;
	uint16_t divisor;
	bool fifo_enabled;
	/* The THRE interrupt condition: set whenever THR becomes empty (at once
	 * after every byte) or THRI is newly enabled, cleared by reading IIR
	 * while it is the reported source, or by disabling THRI. */
	bool thre_pending;
	/* The modelled level of the UART's interrupt output as the PC sees it;
	 * irq_fd is written on each rising edge (the ISA IRQ is edge-triggered
	 * in the MP table, and a KVM irqfd delivers one edge per write). */
	bool irq_line;

	size_t buf_len;
	uint8_t buf[VMM_SERIAL_LINE_MAX];
	struct vmm_serial_stats stats;
};

int vmm_serial_create(int out_fd, int irq_fd, struct vmm_serial **out, struct lv_error **err)
{
	struct vmm_serial *s;
	struct stat st;
	int r;

	if (!out)
		return lv_err_msg(err, EINVAL, "serial: no place for the device");
	s = calloc(1, sizeof(*s));
	if (!s)
		return lv_err(err, ENOMEM, "serial: allocating the UART");
	r = pthread_mutex_init(&s->lock, NULL);
	if (r) {
		free(s);
		return lv_err(err, r, "serial: mutex");
	}
	s->out_fd = out_fd;
	s->irq_fd = irq_fd;
	s->out_is_socket = out_fd >= 0 && fstat(out_fd, &st) == 0 && S_ISSOCK(st.st_mode);
	s->divisor = DIVISOR_RESET;
	s->lcr = UART_LCR_WLEN8;
	*out = s;
	return 0;
}

/* Writes [p, p + n) to out_fd without ever waiting; what does not fit is
 * dropped.  Called with the lock held. */
static void out_write(struct vmm_serial *s, const uint8_t *p, size_t n)
{
	while (n > 0 && s->out_fd >= 0 && !s->out_dead) {
		ssize_t w;

		if (s->out_is_socket)
			w = send(s->out_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = write(s->out_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->stats.out_errno = w < 0 ? errno : EIO;
			/* A full pipe or socket may drain later; anything else
			 * (EPIPE, EBADF, EIO, ENOSPC...) will not get better, and
			 * retrying it per line would cost a syscall per line for
			 * nothing. */
			if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				s->out_dead = true;
			break;
		}
		s->stats.out_bytes += (uint64_t)w;
		p += w;
		n -= (size_t)w;
	}
	s->stats.dropped_bytes += n;
}

static void flush_locked(struct vmm_serial *s)
{
	if (s->buf_len)
		out_write(s, s->buf, s->buf_len);
	s->buf_len = 0;
}

static void transmit(struct vmm_serial *s, uint8_t c)
{
	/* In loopback the transmitter is cut off from the line (the byte would
	 * go to the receiver, which we do not have): the driver is testing,
	 * not talking. */
	if (s->mcr & UART_MCR_LOOP)
		return;
	s->stats.tx_bytes++;
	s->buf[s->buf_len++] = c;
	if (c == '\n' || s->buf_len == sizeof(s->buf))
		flush_locked(s);
}

static bool thre_reported(const struct vmm_serial *s)
{
	return s->thre_pending && (s->ier & UART_IER_THRI);
}

/* On a PC the UART's interrupt output reaches the PIC/IOAPIC through a gate
 * driven by MCR OUT2, and in loopback OUT2 is wired back into the UART
 * instead of the gate.  Linux sets OUT2 when it opens a port with an IRQ. */
static void update_irq(struct vmm_serial *s)
{
	bool line = thre_reported(s) && (s->mcr & UART_MCR_OUT2) && !(s->mcr & UART_MCR_LOOP);

	if (line && !s->irq_line && s->irq_fd >= 0) {
		uint64_t one = 1;

		/* An eventfd write only fails if the counter would overflow,
		 * which KVM's irqfd (it consumes the counter) never lets happen;
		 * nothing useful could be done about it here anyway. */
		if (write(s->irq_fd, &one, sizeof(one)) == (ssize_t)sizeof(one))
			s->stats.irqs++;
	}
	s->irq_line = line;
}

static uint8_t read_iir(struct vmm_serial *s)
{
	uint8_t iir = s->fifo_enabled ? IIR_FIFOS : 0;

	if (thre_reported(s)) {
		iir |= UART_IIR_THRI;
		/* Reading IIR while THRE is the reported source acknowledges it. */
		s->thre_pending = false;
		update_irq(s);
	} else {
		iir |= UART_IIR_NO_INT;
	}
	return iir;
}

static uint8_t read_msr(const struct vmm_serial *s)
{
	uint8_t m = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return MSR_IDLE;
	/* Loopback: the modem outputs feed the modem inputs (RTS->CTS,
	 * DTR->DSR, OUT1->RI, OUT2->DCD); Linux expects 0x90 for MCR 0x1a.
	 * The delta bits are not modelled: nothing enables MSI on this port. */
	if (s->mcr & UART_MCR_RTS)
		m |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_DTR)
		m |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_OUT1)
		m |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		m |= UART_MSR_DCD;
	return m;
}

static uint8_t reg_read(struct vmm_serial *s, unsigned int off)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (off) {
	case UART_RX:
		return dlab ? (uint8_t)s->divisor : 0; /* no receiver: RBR is empty */
	case UART_IER:
		return dlab ? (uint8_t)(s->divisor >> 8) : s->ier;
	case UART_IIR:
		/* DLAB does not bank offset 2 on a 16550A, and there is no EFR
		 * behind LCR=0xbf: IIR is never 0 here, which is how Linux tells
		 * a 16550A from an ST16C650/TI16C752 with an EFR. */
		return read_iir(s);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		/* Everything is sent the moment it is written. */
		return UART_LSR_THRE | UART_LSR_TEMT;
	case UART_MSR:
		return read_msr(s);
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

static void write_ier(struct vmm_serial *s, uint8_t v)
{
	uint8_t old = s->ier;

	s->ier = v & IER_MASK;
	/* THR is always empty, so enabling THRI raises the condition at once:
	 * this is what restarts a tty writer after the console has written
	 * with IER cleared, and what Linux's THRE re-assert test checks. */
	if ((s->ier & UART_IER_THRI) && !(old & UART_IER_THRI))
		s->thre_pending = true;
	if (!(s->ier & UART_IER_THRI))
		s->thre_pending = false;
	update_irq(s);
}

static void write_thr(struct vmm_serial *s, uint8_t c)
{
	/* Writing THR clears THRE; the byte leaves at once and THRE comes back,
	 * one interrupt edge per byte as with a real UART's transmitter. */
	s->thre_pending = false;
	update_irq(s);
	transmit(s, c);
	s->thre_pending = true;
	update_irq(s);
}

static void reg_write(struct vmm_serial *s, unsigned int off, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (off) {
	case UART_TX:
		if (dlab)
			s->divisor = (uint16_t)((s->divisor & 0xff00) | v);
		else
			write_thr(s, v);
		break;
	case UART_IER:
		if (dlab)
			s->divisor = (uint16_t)((s->divisor & 0x00ff) | (v << 8));
		else
			write_ier(s, v);
		break;
	case UART_FCR:
		/* Only the enable bit has a visible effect (IIR bits 7:6); the
		 * clear bits self-clear on empty FIFOs, trigger levels concern a
		 * receiver we do not have.  Bit 5 (16750 64-byte mode) must not
		 * show in IIR, or Linux would take us for a TI16750. */
		s->fifo_enabled = v & UART_FCR_ENABLE_FIFO;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & MCR_MASK;
		update_irq(s);
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:
		break; /* LSR and MSR are read-only (writes are factory test) */
	}
}

int vmm_serial_pio(struct vmm_serial *s, uint16_t offset, bool is_write, uint8_t *data, uint8_t size)
{
	unsigned int i;

	if (!s || !data || offset >= VMM_SERIAL_NR_PORTS || (size != 1 && size != 2 && size != 4))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < size; i++) {
		unsigned int off = offset + i;

		if (off >= VMM_SERIAL_NR_PORTS) {
			if (!is_write)
				data[i] = 0xff;
		} else if (is_write) {
			reg_write(s, off, data[i]);
		} else {
			data[i] = reg_read(s, off);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void vmm_serial_flush(struct vmm_serial *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

void vmm_serial_get_stats(struct vmm_serial *s, struct vmm_serial_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

void vmm_serial_destroy(struct vmm_serial **sp)
{
	struct vmm_serial *s = sp ? *sp : NULL;

	if (!s)
		return;
	flush_locked(s); /* no vCPU may still be calling in: no lock needed */
	pthread_mutex_destroy(&s->lock);
	free(s);
	*sp = NULL;
}
