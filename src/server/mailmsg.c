#include "server/mailmsg.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "model/org.h"
#include "util/utf8.h"

enum {
	WORD_MAX = 75,      /* an encoded-word, delimiters included (RFC 2047 §2) */
	WORD_LINE_MAX = 76, /* a line holding encoded-words (RFC 2047 §2) */
	QP_LINE_MAX = 76,
	VALUE_MAX = 900,    /* a header value, before encoding: keeps every line < 998 */
};

static const char word_open[] = "=?UTF-8?B?";

/* Printable ASCII without "=?" (which a reader would take for an encoded-word). */
static bool plain(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || (c == '=' && i + 1 < len && s[i + 1] == '?'))
			return false;
	}
	return true;
}

/* text with control characters as spaces, cut at VALUE_MAX between characters. */
static void clean(const char *text, char *dst, size_t dstlen)
{
	size_t len = utf8_cut(text, strnlen(text, dstlen - 1)), i;

	memcpy(dst, text, len);
	dst[len] = '\0';
	for (i = 0; i < len; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = ' ';
}

/* The longest run of whole UTF-8 characters of s[0..len) within max bytes. */
static size_t chars_within(const char *s, size_t len, size_t max)
{
	return utf8_cut(s, len < max ? len : max);
}

int mailmsg_encode_words(struct buf *out, const char *text, size_t used)
{
	char value[VALUE_MAX + 1];
	size_t len, pos = 0, col = used;

	clean(text ? text : "", value, sizeof(value));
	len = strlen(value);
	if (plain(value, len))
		return buf_append(out, value, len);
	while (pos < len) {
		char b64[WORD_MAX];
		size_t room, n;

		room = WORD_LINE_MAX > col + sizeof(word_open) - 1 + 2
			       ? WORD_LINE_MAX - col - (sizeof(word_open) - 1) - 2
			       : 0;
		n = chars_within(value + pos, len - pos, room / 4 * 3);
		if (n == 0) {
			/* No room left on this line for one character: fold first. */
			if (col <= 1 || buf_puts(out, "\r\n "))
				return -1;
			col = 1;
			continue;
		}
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)value + pos, n,
				  sodium_base64_VARIANT_ORIGINAL);
		if (buf_printf(out, "%s%s?=", word_open, b64))
			return -1;
		col += sizeof(word_open) - 1 + strlen(b64) + 2;
		pos += n;
		if (pos < len) {
			if (buf_puts(out, "\r\n "))
				return -1;
			col = 1;
		}
	}
	return 0;
}

/* RFC 5322 specials, which a display name must quote. */
static bool needs_quotes(const char *s)
{
	return strpbrk(s, "()<>[]:;@\\,.\"") != NULL;
}

int mailmsg_mailbox(struct buf *out, const char *name, const char *addr, size_t used)
{
	char value[VALUE_MAX + 1];
	const char *p;

	if (!name || !*name)
		return buf_puts(out, addr);
	clean(name, value, sizeof(value));
	if (!plain(value, strlen(value))) {
		if (mailmsg_encode_words(out, value, used))
			return -1;
	} else if (needs_quotes(value)) {
		if (buf_putc(out, '"'))
			return -1;
		for (p = value; *p; p++)
			if ((*p == '"' || *p == '\\') ? buf_putc(out, '\\') || buf_putc(out, *p)
						      : buf_putc(out, *p))
				return -1;
		if (buf_putc(out, '"'))
			return -1;
	} else if (buf_puts(out, value)) {
		return -1;
	}
	return buf_printf(out, " <%s>", addr);
}

int mailmsg_parse_mailbox(const char *s, char name[MAILMSG_NAME_MAX], char addr[MAILMSG_ADDR_MAX])
{
	const char *lt = strchr(s, '<'), *gt;
	size_t n, len;

	name[0] = addr[0] = '\0';
	if (!lt) {
		len = strlen(s);
		if (len >= MAILMSG_ADDR_MAX || !org_email_valid(s, len))
			return -1;
		memcpy(addr, s, len + 1);
		return 0;
	}
	gt = strchr(lt, '>');
	if (!gt || gt[1] != '\0')
		return -1;
	len = (size_t)(gt - lt - 1);
	if (len >= MAILMSG_ADDR_MAX || !org_email_valid(lt + 1, len))
		return -1;
	memcpy(addr, lt + 1, len);
	addr[len] = '\0';
	while (*s == ' ')
		s++;
	n = (size_t)(lt - s);
	while (n && s[n - 1] == ' ')
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	if (n >= MAILMSG_NAME_MAX || memchr(s, '\n', n) || memchr(s, '\r', n))
		return -1;
	memcpy(name, s, n);
	name[n] = '\0';
	return 0;
}

/* Whether every line of body fits SMTP's 998 bytes as it stands. */
static bool lines_fit(const char *body)
{
	size_t run = 0;

	for (; *body; body++) {
		if (*body == '\n') {
			run = 0;
		} else if (*body != '\r' && ++run > MAILMSG_LINE_MAX) {
			return false;
		}
	}
	return true;
}

/* body with every line ending CRLF (LF or CRLF in; a lone CR becomes a space). */
static int crlf(struct buf *out, const char *body)
{
	const char *p;

	for (p = body; *p; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\n' ? buf_puts(out, "\r\n") : buf_putc(out, *p == '\r' ? ' ' : *p))
			return -1;
	}
	if (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		return buf_puts(out, "\r\n");
	return 0;
}

int mailmsg_qp(struct buf *out, const char *body)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	const char *p;

	for (p = body; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char enc[4];
		size_t n;

		if (c == '\r' && p[1] == '\n')
			continue;
		if (c == '\n') {
			if (buf_puts(out, "\r\n"))
				return -1;
			col = 0;
			continue;
		}
		/* Space and tab stay literal unless they end a line (RFC 2045 rule 3). */
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && p[1] && p[1] != '\n' && p[1] != '\r')) {
			enc[0] = (char)c;
			n = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			n = 3;
		}
		/* A soft break ("=" CRLF) keeps every line within 76 characters. */
		if (col + n > QP_LINE_MAX - 1) {
			if (buf_puts(out, "=\r\n"))
				return -1;
			col = 0;
		}
		if (buf_append(out, enc, n))
			return -1;
		col += n;
	}
	if (col && buf_puts(out, "\r\n"))
		return -1;
	return 0;
}

int mailmsg_build(const struct mailmsg *m, struct buf *out)
{
	char date[64];
	time_t t = (time_t)m->date;
	struct tm tm;
	bool qp = !lines_fit(m->body);

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (buf_printf(out, "Date: %s\r\nFrom: ", date) ||
	    mailmsg_mailbox(out, m->from_name, m->from_addr, 6) || buf_puts(out, "\r\nTo: ") ||
	    mailmsg_mailbox(out, m->to_name, m->to_addr, 4) || buf_puts(out, "\r\nSubject: ") ||
	    mailmsg_encode_words(out, m->subject, 9) ||
	    buf_printf(out, "\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n"
		       "Content-Type: text/plain; charset=UTF-8\r\n"
		       "Content-Transfer-Encoding: %s\r\nAuto-Submitted: auto-generated\r\n",
		       m->message_id, qp ? "quoted-printable" : "8bit"))
		return -1;
	if (m->delivery_id && buf_printf(out, "X-Orgsync-Delivery: %s\r\n", m->delivery_id))
		return -1;
	if (buf_puts(out, "\r\n"))
		return -1;
	return qp ? mailmsg_qp(out, m->body) : crlf(out, m->body);
}
