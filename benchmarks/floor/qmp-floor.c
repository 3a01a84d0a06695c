/*
 * The floor for a QMP round trip: the least a client can do. Connects to a QMP unix socket,
 * reads the greeting, negotiates capabilities, makes 100 unmeasured warm-up calls, then sends CALLS x {"execute":"query-status","id":1}
 * with a blocking write and reads the reply line with blocking reads; no JSON parsing.
 *
 *   qmp-floor SOCKET CALLS
 *
 * Prints one machine-readable line:
 *   qmp-floor calls=N p50_us=X p90_us=X p99_us=X max_us=X
 * and exits 0; on any failure prints "qmp-floor error=..." to stderr and exits 1.
 * Built by the benchmark runner with the system compiler (cc -O2); no binary is checked in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char buffer[1 << 20];
static size_t filled;

static void fail(const char *what)
{
    fprintf(stderr, "qmp-floor error=%s errno=%d (%s)\n", what, errno, strerror(errno));
    exit(1);
}

/* Blocks until a whole line is buffered; returns its newline. */
static char *next_line(int fd)
{
    for (;;) {
        char *newline = memchr(buffer, '\n', filled);
        if (newline)
            return newline;
        if (filled == sizeof buffer)
            fail("line-too-long");
        ssize_t got = read(fd, buffer + filled, sizeof buffer - filled);
        if (got == 0) {
            errno = 0;
            fail("closed");
        }
        if (got < 0) {
            if (errno == EINTR)
                continue;
            fail("read");
        }
        filled += (size_t)got;
    }
}

/* Reads until a whole line is buffered, then drops that line (replies and events alike). */
static void read_line(int fd)
{
    char *newline = next_line(fd);
    size_t rest = filled - (size_t)(newline + 1 - buffer);
    memmove(buffer, newline + 1, rest);
    filled = rest;
}

/* Reads lines until one holds "return" (skips events that may arrive in between). */
static void read_reply(int fd)
{
    for (;;) {
        char *newline = next_line(fd);
        int is_reply = memmem(buffer, (size_t)(newline - buffer), "\"return\"", 8) != NULL;
        read_line(fd);
        if (is_reply)
            return;
    }
}

static void write_all(int fd, const char *bytes, size_t length)
{
    while (length > 0) {
        ssize_t sent = write(fd, bytes, length);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            fail("write");
        }
        bytes += sent;
        length -= (size_t)sent;
    }
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int count, double percent)
{
    int index = (int)((percent / 100.0) * count + 0.999999) - 1;
    if (index < 0)
        index = 0;
    if (index >= count)
        index = count - 1;
    return sorted[index];
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: qmp-floor SOCKET CALLS\n");
        return 2;
    }
    int calls = atoi(argv[2]);
    if (calls <= 0) {
        fprintf(stderr, "qmp-floor error=calls-must-be-positive\n");
        return 2;
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket");
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0)
        fail("connect");

    static const char capabilities[] = "{\"execute\":\"qmp_capabilities\"}\n";
    static const char query[] = "{\"execute\":\"query-status\",\"id\":1}\n";
    read_line(fd); /* the greeting */
    write_all(fd, capabilities, sizeof capabilities - 1);
    read_reply(fd);

    /* Unmeasured warm-up, as the SDK's client is warm (connected across blocks): page faults,
       caches and the scheduler's placement of a fresh process stay out of the figures. */
    for (int i = 0; i < 100; i++) {
        write_all(fd, query, sizeof query - 1);
        read_reply(fd);
    }

    double *samples = malloc(sizeof(double) * (size_t)calls);
    if (!samples)
        fail("malloc");
    for (int i = 0; i < calls; i++) {
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        write_all(fd, query, sizeof query - 1);
        read_reply(fd);
        clock_gettime(CLOCK_MONOTONIC, &end);
        samples[i] = (double)(end.tv_sec - start.tv_sec) * 1e6 + (double)(end.tv_nsec - start.tv_nsec) / 1e3;
    }
    close(fd);

    qsort(samples, (size_t)calls, sizeof(double), by_value);
    printf("qmp-floor calls=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f\n", calls,
           percentile(samples, calls, 50), percentile(samples, calls, 90),
           percentile(samples, calls, 99), samples[calls - 1]);
    free(samples);
    return 0;
}
