/* Load generator for `python -m bench gateway`, compiled at bench time with the system C compiler.
 *
 * Opens CONNS TCP connections to 127.0.0.1:PORT, says hello and logs each in with one API key (one
 * key per line of KEYS; the echo server answers these like anything else), then keeps WINDOW
 * requests in flight on every connection: each slot places a resting limit order (buys at
 * 29,000-29,199, sells at 31,000-31,199, alternating), cancels it by the order_id of the answer, and
 * places again. Answers are msgpack maps {type, id, result}; the id names the slot (id & 0xff).
 * The first WARMUP seconds, and at least until every slot's first request is answered, go
 * unmeasured; then at least SECONDS are measured, and until every slot has had ROUNDS answers, so a
 * server that answers in bursts seconds apart is measured over whole bursts. After that no new
 * orders are placed: open ones are cancelled and the slots drain, so the book is left as it was
 * found. One single-threaded epoll loop; prints one JSON object: requests, places, cancels, errors,
 * elapsed_s, the round-trip p50/p99 in microseconds, and cpu_share: the generator's own CPU time over
 * the measured time (near 1.0, it would be the bottleneck itself).
 *
 * usage: loadgen PORT CONNS WINDOW WARMUP SECONDS KEYS SYMBOL
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF (1 << 16)
#define MAX_WINDOW 254
#define SETUP_SLOT 255
#define ROUNDS 2 /* answers every slot gets in the measured time, at least (a place and its cancel) */
#define HIST_BUCKETS 1000000 /* of 10 us: round trips up to 10 s */

enum { IDLE, PLACING, CANCELLING };

typedef struct {
    int fd;
    int logged;             /* setup answers received (hello, login) */
    uint32_t counter;
    uint8_t state[MAX_WINDOW];
    uint8_t answered[MAX_WINDOW];
    double sent[MAX_WINDOW];
    uint8_t in[BUF];
    size_t in_len;
    uint8_t out[BUF];
    size_t out_len, out_off;
    int want_out;
} Conn;

static int epfd, window;
static const char *symbol;
static int measuring = 0, draining = 0;
static long long places, cancels, errors, busy;
static long long unanswered; /* slots short of their answers in this phase: 1 in the warm-up, ROUNDS measured */
static double phase_until; /* and the phase lasts at least until then */
static uint32_t *hist;
static long long hist_over;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* this process's user + system CPU seconds */
static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* -- msgpack writing ----------------------------------------------------------------------- */
static uint8_t *w_map(uint8_t *p, int n) { *p++ = 0x80 | n; return p; }
static uint8_t *w_str(uint8_t *p, const char *s) {
    size_t n = strlen(s);
    if (n < 32) *p++ = 0xa0 | n; else { *p++ = 0xd9; *p++ = (uint8_t)n; }
    memcpy(p, s, n);
    return p + n;
}
static uint8_t *w_uint(uint8_t *p, uint64_t v) {
    if (v < 128) { *p++ = (uint8_t)v; return p; }
    *p++ = 0xcf;
    for (int i = 7; i >= 0; i--) *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *room(Conn *c) {
    if (c->out_len + 512 > BUF) { fprintf(stderr, "loadgen: output buffer full\n"); exit(1); }
    return c->out + c->out_len;
}

static uint64_t next_id(Conn *c, int slot) { return ((uint64_t)(c->counter++ & 0xffffff) << 8) | slot; }

static void send_place(Conn *c, int slot) {
    uint8_t *p = room(c), *start = p;
    char price[32];
    int buy = c->counter & 1;
    snprintf(price, sizeof price, "%d.0", (buy ? 29000 : 31000) + (int)((c->fd * 7 + c->counter) % 200));
    p = w_map(p, 7);
    p = w_str(p, "op"); p = w_str(p, "place");
    p = w_str(p, "id"); p = w_uint(p, next_id(c, slot));
    p = w_str(p, "symbol"); p = w_str(p, symbol);
    p = w_str(p, "side"); p = w_str(p, buy ? "buy" : "sell");
    p = w_str(p, "type"); p = w_str(p, "limit");
    p = w_str(p, "qty"); p = w_str(p, "0.01");
    p = w_str(p, "price"); p = w_str(p, price);
    c->out_len += p - start;
    c->state[slot] = PLACING;
    c->sent[slot] = now_s();
}

static void send_cancel(Conn *c, int slot, uint64_t order_id) {
    uint8_t *p = room(c), *start = p;
    p = w_map(p, 4);
    p = w_str(p, "op"); p = w_str(p, "cancel");
    p = w_str(p, "id"); p = w_uint(p, next_id(c, slot));
    p = w_str(p, "symbol"); p = w_str(p, symbol);
    p = w_str(p, "order_id"); p = w_uint(p, order_id ? order_id : 1);
    c->out_len += p - start;
    c->state[slot] = CANCELLING;
    c->sent[slot] = now_s();
}

static void send_setup(Conn *c, const char *key) {
    uint8_t *p = room(c), *start = p;
    p = w_map(p, 3);
    p = w_str(p, "op"); p = w_str(p, "hello");
    p = w_str(p, "id"); p = w_uint(p, next_id(c, SETUP_SLOT));
    p = w_str(p, "version"); p = w_uint(p, 1);
    p = w_map(p, 3);
    p = w_str(p, "op"); p = w_str(p, "login");
    p = w_str(p, "id"); p = w_uint(p, next_id(c, SETUP_SLOT));
    p = w_str(p, "api_key"); p = w_str(p, key);
    c->out_len += p - start;
}

static void flush(Conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN) break;
            die("write");
        }
        c->out_off += n;
    }
    int want = c->out_off < c->out_len;
    if (!want) c->out_off = c->out_len = 0;
    else if (c->out_off > BUF / 2) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
        c->want_out = want;
    }
}

/* -- msgpack reading: 1 = done, 0 = incomplete, -1 = malformed ----------------------------- */
static int need(const uint8_t *p, const uint8_t *end, size_t n) { return (size_t)(end - p) >= n; }
static uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

static int skip(const uint8_t **pp, const uint8_t *end);

static int skip_n(const uint8_t **pp, const uint8_t *end, uint64_t items) {
    for (uint64_t i = 0; i < items; i++) {
        int r = skip(pp, end);
        if (r <= 0) return r;
    }
    return 1;
}

static int skip(const uint8_t **pp, const uint8_t *end) {
    const uint8_t *p = *pp;
    if (!need(p, end, 1)) return 0;
    uint8_t b = *p++;
    uint64_t n = 0, items = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) n = 0;
    else if (b >= 0x80 && b <= 0x8f) items = 2 * (b & 0x0f);
    else if (b >= 0x90 && b <= 0x9f) items = b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf) n = b & 0x1f;
    else switch (b) {
        case 0xcc: case 0xd0: n = 1; break;
        case 0xcd: case 0xd1: n = 2; break;
        case 0xce: case 0xd2: case 0xca: n = 4; break;
        case 0xcf: case 0xd3: case 0xcb: n = 8; break;
        case 0xd4: n = 2; break;
        case 0xd5: n = 3; break;
        case 0xd6: n = 5; break;
        case 0xd7: n = 9; break;
        case 0xd8: n = 17; break;
        case 0xc4: case 0xd9: if (!need(p, end, 1)) return 0; n = p[0]; p += 1; break;
        case 0xc5: case 0xda: if (!need(p, end, 2)) return 0; n = be(p, 2); p += 2; break;
        case 0xc6: case 0xdb: if (!need(p, end, 4)) return 0; n = be(p, 4); p += 4; break;
        case 0xc7: if (!need(p, end, 1)) return 0; n = p[0] + 1; p += 1; break;
        case 0xc8: if (!need(p, end, 2)) return 0; n = be(p, 2) + 1; p += 2; break;
        case 0xc9: if (!need(p, end, 4)) return 0; n = be(p, 4) + 1; p += 4; break;
        case 0xdc: if (!need(p, end, 2)) return 0; items = be(p, 2); p += 2; break;
        case 0xdd: if (!need(p, end, 4)) return 0; items = be(p, 4); p += 4; break;
        case 0xde: if (!need(p, end, 2)) return 0; items = 2 * be(p, 2); p += 2; break;
        case 0xdf: if (!need(p, end, 4)) return 0; items = 2 * be(p, 4); p += 4; break;
        default: return -1;
    }
    if (!need(p, end, n)) return 0;
    p += n;
    int r = skip_n(&p, end, items);
    if (r <= 0) return r;
    *pp = p;
    return 1;
}

static int map_len(const uint8_t **pp, const uint8_t *end, uint64_t *len) {
    const uint8_t *p = *pp;
    if (!need(p, end, 1)) return 0;
    uint8_t b = *p++;
    if (b >= 0x80 && b <= 0x8f) *len = b & 0x0f;
    else if (b == 0xde) { if (!need(p, end, 2)) return 0; *len = be(p, 2); p += 2; }
    else if (b == 0xdf) { if (!need(p, end, 4)) return 0; *len = be(p, 4); p += 4; }
    else return -1;
    *pp = p;
    return 1;
}

static int read_str(const uint8_t **pp, const uint8_t *end, const uint8_t **s, uint64_t *len) {
    const uint8_t *p = *pp;
    if (!need(p, end, 1)) return 0;
    uint8_t b = *p++;
    if (b >= 0xa0 && b <= 0xbf) *len = b & 0x1f;
    else if (b == 0xd9) { if (!need(p, end, 1)) return 0; *len = p[0]; p += 1; }
    else if (b == 0xda) { if (!need(p, end, 2)) return 0; *len = be(p, 2); p += 2; }
    else if (b == 0xdb) { if (!need(p, end, 4)) return 0; *len = be(p, 4); p += 4; }
    else return -1;
    if (!need(p, end, *len)) return 0;
    *s = p;
    *pp = p + *len;
    return 1;
}

/* an unsigned int value, else (a value of another type) skip it and report 0 */
static int read_uint(const uint8_t **pp, const uint8_t *end, uint64_t *v) {
    const uint8_t *p = *pp;
    if (!need(p, end, 1)) return 0;
    uint8_t b = p[0];
    int n = b <= 0x7f ? 0 : b == 0xcc ? 1 : b == 0xcd ? 2 : b == 0xce ? 4 : b == 0xcf ? 8 : -1;
    if (n < 0) { *v = 0; return skip(pp, end); }
    if (!need(p, end, 1 + n)) return 0;
    *v = n ? be(p + 1, n) : b;
    *pp = p + 1 + n;
    return 1;
}

static int key_is(const uint8_t *s, uint64_t len, const char *want) {
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* One answer: its type ('r' result, 'e' error, other), id and result.order_id (0 if none). */
static int read_answer(const uint8_t **pp, const uint8_t *end, char *type, uint64_t *id, uint64_t *order_id) {
    const uint8_t *p = *pp;
    uint64_t n, rn, len;
    const uint8_t *s;
    int r;
    *type = '?'; *id = UINT64_MAX; *order_id = 0;
    if ((r = map_len(&p, end, &n)) <= 0) return r ? r : 0;
    for (uint64_t i = 0; i < n; i++) {
        if ((r = read_str(&p, end, &s, &len)) <= 0) return r;
        if (key_is(s, len, "type")) {
            const uint8_t *t;
            uint64_t tl;
            if ((r = read_str(&p, end, &t, &tl)) <= 0) return r;
            *type = key_is(t, tl, "result") ? 'r' : key_is(t, tl, "error") ? 'e' : '?';
        } else if (key_is(s, len, "id")) {
            if ((r = read_uint(&p, end, id)) <= 0) return r;
        } else if (key_is(s, len, "result") && need(p, end, 1) && ((*p >= 0x80 && *p <= 0x8f) || *p == 0xde)) {
            if ((r = map_len(&p, end, &rn)) <= 0) return r;
            for (uint64_t j = 0; j < rn; j++) {
                if ((r = read_str(&p, end, &s, &len)) <= 0) return r;
                if (key_is(s, len, "order_id")) { if ((r = read_uint(&p, end, order_id)) <= 0) return r; }
                else if ((r = skip(&p, end)) <= 0) return r;
            }
        } else if ((r = skip(&p, end)) <= 0) return r;
    }
    *pp = p;
    return 1;
}

static void record_rtt(double seconds) {
    long long bucket = (long long)(seconds * 1e5);
    if (bucket < HIST_BUCKETS) hist[bucket]++; else hist_over++;
}

static void on_answer(Conn *c, char type, uint64_t id, uint64_t order_id) {
    int slot = (int)(id & 0xff);
    if (slot == SETUP_SLOT) {
        if (type != 'r') { fprintf(stderr, "loadgen: hello or login refused\n"); exit(1); }
        c->logged++;
        return;
    }
    if (slot >= window || c->state[slot] == IDLE) return;  /* not ours: ignore */
    int was = c->state[slot];
    if (c->answered[slot] < (measuring ? ROUNDS : 1) && ++c->answered[slot] == (measuring ? ROUNDS : 1)) unanswered--;
    if (measuring) {
        record_rtt(now_s() - c->sent[slot]);
        if (type != 'r') errors++;
        else if (was == PLACING) places++;
        else cancels++;
    }
    if (was == PLACING && type == 'r') send_cancel(c, slot, order_id);
    else if (draining) { c->state[slot] = IDLE; busy--; }
    else send_place(c, slot);
}

static void on_readable(Conn *c) {
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_len, BUF - c->in_len);
        if (n < 0) {
            if (errno == EAGAIN) break;
            die("read");
        }
        if (n == 0) { fprintf(stderr, "loadgen: server closed a connection\n"); exit(1); }
        c->in_len += n;
        const uint8_t *p = c->in, *end = c->in + c->in_len;
        for (;;) {
            const uint8_t *q = p;
            char type;
            uint64_t id, oid;
            int r = read_answer(&q, end, &type, &id, &oid);
            if (r < 0) { fprintf(stderr, "loadgen: malformed answer\n"); exit(1); }
            if (r == 0) break;
            on_answer(c, type, id, oid);
            p = q;
        }
        c->in_len = end - p;
        memmove(c->in, p, c->in_len);
        if (c->in_len == BUF) { fprintf(stderr, "loadgen: answer larger than %d bytes\n", BUF); exit(1); }
    }
    flush(c);
}

static void loop_until(Conn *conns, int n, double deadline, int (*done)(Conn *, int)) {
    struct epoll_event evs[256];
    while (!(done && done(conns, n)) && now_s() < deadline) {
        int k = epoll_wait(epfd, evs, 256, 50);
        if (k < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < k; i++) {
            Conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) { fprintf(stderr, "loadgen: connection error\n"); exit(1); }
            if (evs[i].events & EPOLLIN) on_readable(c);
            else if (evs[i].events & EPOLLOUT) flush(c);
        }
    }
}

static int all_logged(Conn *conns, int n) {
    for (int i = 0; i < n; i++) if (conns[i].logged < 2) return 0;
    return 1;
}

static int phase_done(Conn *conns, int n) { (void)conns; (void)n; return unanswered <= 0 && now_s() >= phase_until; }

static int all_idle(Conn *conns, int n) { (void)conns; (void)n; return busy == 0; }

static double percentile(long long total, double q) {
    long long want = (long long)(total * q), seen = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += hist[b];
        if (seen > want) return b * 10.0 + 5;
    }
    return HIST_BUCKETS * 10.0;
}

int main(int argc, char **argv) {
    if (argc != 8) { fprintf(stderr, "usage: loadgen PORT CONNS WINDOW WARMUP SECONDS KEYS SYMBOL\n"); return 2; }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    window = atoi(argv[3]);
    double warmup = atof(argv[4]), seconds = atof(argv[5]);
    symbol = argv[7];
    if (n < 1 || window < 1 || window > MAX_WINDOW || warmup < 0 || seconds <= 0) {
        fprintf(stderr, "loadgen: bad arguments\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    FILE *keys = fopen(argv[6], "r");
    if (!keys) die("keys file");
    Conn *conns = calloc(n, sizeof(Conn));
    hist = calloc(HIST_BUCKETS, sizeof(uint32_t));
    if (!conns || !hist) die("calloc");
    epfd = epoll_create1(0);
    if (epfd < 0) die("epoll_create1");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    char key[256];
    for (int i = 0; i < n; i++) {
        if (!fgets(key, sizeof key, keys)) { fprintf(stderr, "loadgen: fewer keys than connections\n"); return 1; }
        key[strcspn(key, "\r\n")] = 0;
        Conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0) die("socket");
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
        send_setup(c, key);
        flush(c);
    }
    fclose(keys);
    loop_until(conns, n, now_s() + 60, all_logged);
    if (!all_logged(conns, n)) { fprintf(stderr, "loadgen: logins did not complete\n"); return 1; }
    for (int i = 0; i < n; i++) {
        for (int s = 0; s < window; s++) send_place(&conns[i], s);
        busy += window;
        unanswered += window;
        flush(&conns[i]);
    }
    phase_until = now_s() + warmup;
    loop_until(conns, n, now_s() + 120, phase_done);
    if (unanswered) { fprintf(stderr, "loadgen: %lld requests unanswered after 120 s\n", unanswered); return 1; }
    for (int i = 0; i < n; i++) memset(conns[i].answered, 0, sizeof conns[i].answered);
    unanswered = (long long)n * window;
    measuring = 1;
    double t0 = now_s(), cpu0 = cpu_s();
    phase_until = t0 + seconds;
    loop_until(conns, n, t0 + seconds + 120, phase_done);
    double elapsed = now_s() - t0, cpu = cpu_s() - cpu0;
    measuring = 0;
    draining = 1;
    loop_until(conns, n, now_s() + 30, all_idle);
    for (int i = 0; i < n; i++) close(conns[i].fd);
    long long total = places + cancels + errors, timed = total;
    printf("{\"requests\": %lld, \"places\": %lld, \"cancels\": %lld, \"errors\": %lld, \"elapsed_s\": %.4f, "
           "\"requests_per_s\": %.1f, \"p50_us\": %.0f, \"p99_us\": %.0f, \"rtt_over_10s\": %lld, \"undrained\": %lld, "
           "\"cpu_share\": %.3f}\n",
           total, places, cancels, errors, elapsed, total / elapsed, percentile(timed, 0.5), percentile(timed, 0.99),
           hist_over, busy, cpu / elapsed);
    return 0;
}
