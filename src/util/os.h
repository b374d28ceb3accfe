/*
 * os: what differs between the systems the client runs on, Linux and
 * Windows, behind one small interface: the command line and the console
 * in UTF-8, files opened and renamed by UTF-8 name, the monotonic and
 * the wall clocks, sleeping, random bytes, IP address parsing. os_posix.c
 * and os_win.c implement it and the build picks one; nothing else needs to
 * know which.
 */
#ifndef ORGSYNC_OS_H
#define ORGSYNC_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Called first thing in main(). On Windows it replaces *argv with the
 * command line as UTF-8 (the C runtime's argv is in the ANSI code page,
 * which cannot hold every name), makes the standard streams binary (no
 * CRLF added to what is written) and the console UTF-8. Elsewhere it does
 * nothing. 0, or -1 when out of memory.
 */
int os_init(int *argc, char ***argv);

/* fopen() of a UTF-8 file name; errno set on failure. */
FILE *os_fopen(const char *path, const char *mode);

/* 0 when path exists and can be read, else -1 with errno. */
int os_readable(const char *path);

/* The size of a file in bytes, or -1 with errno. */
int64_t os_file_size(const char *path);

/* mkdir() with the default permissions: 0, or -1 with errno (EEXIST too). */
int os_mkdir(const char *path);

/* Renames from over to, replacing to when it exists: 0, or -1 with errno. */
int os_replace(const char *from, const char *to);

/* Removes a file: 0, or -1 with errno. */
int os_remove(const char *path);

/* This process's id, for unique temporary names. */
long os_pid(void);

/* Whether the stream is a terminal (a console on Windows). */
bool os_isatty(FILE *f);

/*
 * Nanoseconds of the process's one monotonic clock (CLOCK_MONOTONIC; the
 * performance counter on Windows): it never goes back and its origin is
 * arbitrary, so only differences mean something. Timeouts, rate limits and
 * durations all read it; wall-clock time is another matter.
 */
int64_t os_now_ns(void);

/* os_now_ns() in whole milliseconds. */
int64_t os_now_ms(void);

/*
 * The wall clock in milliseconds since the Unix epoch (CLOCK_REALTIME; the
 * system time on Windows): what is stored and shown as a moment (created,
 * expires, next attempt, log time stamps) and what leases held in the
 * database are compared against, as other processes read it too. It may
 * jump when the clock is set: measure durations with os_now_ns.
 */
int64_t os_wall_ms(void);

/* Sleeps ms milliseconds (signals do not cut it short). */
void os_sleep_ms(long ms);

/* Fills buf with random bytes from the system's generator: 0, or -1. */
int os_random(void *buf, size_t len);

/* Zeroes memory that held a secret, in a way the compiler keeps. */
void os_memzero(void *p, size_t len);

/*
 * Parses a numeric IP address: *len is 4 for IPv4, 16 for IPv6, and out
 * holds the address in network order. 0, or -1 when s is not one.
 */
int os_parse_ip(const char *s, unsigned char out[16], size_t *len);

#endif
