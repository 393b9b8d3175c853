/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * collector.c — the embedded collector: loads vdropmon.bpf.c into this
 * process (once, shared by every vdropmon element in it), keeps the watch
 * maps, polls the ring buffer on its own thread and hands decoded drops to
 * the subscription that watches them. Implements event_source.h.
 */
#define _GNU_SOURCE
#include "collector.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "btf_probe.h"
#include "debug_switch.h"
#include "flow_keys.h"
#include "percpu_read.h"
#include "socket_flow.h"
#include "vdropmon.skel.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

/* Events are submitted without wakeup; this is the drain period, so it
 * bounds the added drop-to-bus latency. */
#define DRAIN_PERIOD_MS 5
/* How old a read of every watch's queue peak may be when an element asks
 * for its own (embedded_queue_peak). */
#define PEAK_SAMPLE_NS (1000 * 1000)
/* How long an unwatch waits for the collector thread to deliver what the
 * ring still holds for that watch; past it the leftovers are dropped as
 * stale (never a stall: the thread may be slow in a subscriber's callback). */
#define UNWATCH_DRAIN_WAIT_MS 200
#define MAX_SUBSCRIBERS_PER_WATCH 8

struct vdm_subscription {
  vdm_consumer consumer;
  void *user_data;
  struct vdm_subscription *next;
};

/* One kernel-side key (a socket cookie, or a flow named by hand), shared by
 * every subscription that asked for it (e.g. two elements behind a tee). */
typedef struct {
  bool used;
  bool draining;               /* unwatched, its kernel keys gone: delivering what the ring holds */
  uint32_t generation;         /* bumped at each release of the slot */
  uint64_t cookie;             /* 0 for a flow-only watch */
  struct vdm_flow_key flow;    /* as resolved: what find_watch compares */
  struct vdm_flow_key keys[VDM_MAX_KEYS_PER_WATCH]; /* flow_keys.h */
  bool owns_key[VDM_MAX_KEYS_PER_WATCH]; /* this watch's id is the watched_flows value */
  unsigned n_keys;
  vdm_subscription *subscribers[MAX_SUBSCRIBERS_PER_WATCH];
  unsigned n_subscribers;
} watch_entry;

/* The generation keeps ids positive as an int (vdropmon_event.h). */
#define GENERATION_MASK ((1u << VDM_WATCH_GENERATION_BITS) - 1)

typedef struct {
  vdm_source base;             /* first: the generic reference count and ops */
  pthread_mutex_t lock;        /* subscriptions and watches; held while dispatching */
  struct vdropmon_bpf *skel;
  struct ring_buffer *ring;
  pthread_t poll_thread;
  atomic_bool stopping;
  unsigned long ring_errors;   /* collector thread only */
  vdm_reason_table reasons;
  vdm_source_info info;
  int n_cpus;
  /* vdm_embedded_sample (vdropmond's loop thread only): the health counters
   * at the last sample, and each slot's lost events then (zeroed with the
   * slot's counters when a watch takes it) */
  bool sampled_once;
  uint64_t sampled_peaks_raised, sampled_ringbuf_lost;
  uint64_t *sampled_lost;
  /* embedded_queue_peak (the elements' workers): every slot's peak read
   * at once, at most every PEAK_SAMPLE_NS, and handed out per slot, so
   * that a process of 200 elements reads the map ~10 times per detector
   * bin instead of twice per element and round (issue 13). */
  pthread_mutex_t peak_lock;
  bool peaks_sampled;
  uint64_t peaks_sampled_ns;   /* CLOCK_MONOTONIC of the last read */
  uint64_t peaks_health;       /* VDM_HEALTH_QUEUE_PEAKS then */
  uint64_t *peaks_pending;     /* [n_slots]: the highest fill read since the slot's last take */
  uint32_t n_slots;             /* the maps' size in watch slots, slot 0 unused */
  uint32_t n_used;             /* slots in use */
  watch_entry *watches;        /* [n_slots], index = slot */
  /* The public id of each slot in use, 0 when free: read without the lock by
   * counters() and friends, which a callback may call under it. */
  atomic_uint *live_ids;       /* [n_slots] */
  uint32_t *port_counts;       /* [65536]: installed flow keys per local port (set_port_count) */
  unsigned long stale_events;  /* collector thread: events for a released watch, dropped */
  vdm_subscription *subscriptions;
  /* Drain passes of the collector thread, so an unwatch can wait until the
   * events queued for its watch were delivered (see wait_for_drain). */
  pthread_mutex_t drain_lock;
  pthread_cond_t drain_cond;
  uint64_t drains_started, drains_done;
  int wake_fd;                 /* eventfd: starts a pass at once */
} vdm_embedded;

/* The process-wide instance. shared_lock orders opening against the
 * destruction that follows the last unref: a source whose count already
 * reached 0 is never handed out again (see ref_if_alive). */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static vdm_embedded *shared_source;
/* Watch slots the next load sizes its maps for (vdm_embedded_set_capacity). */
static uint32_t requested_slots = VDM_DEFAULT_WATCH_SLOTS;

static const vdm_source_ops embedded_ops;

/* Who this process is, as far as loading BPF goes. */
typedef struct {
  uid_t euid;
  uint64_t effective_caps;
} privilege;

/* The last failed load, so that a process that may not load BPF does not
 * parse the kernel BTF and try again at every element start: reused for
 * FAILURE_MEMORY_NS, or until the process's privilege changes. Guarded by
 * shared_lock. */
#define FAILURE_MEMORY_NS (10ull * 1000000000ull)
static char *last_failure;
static privilege last_failure_privilege;
static uint64_t last_failure_ns;
static unsigned long load_attempts;

static vdm_embedded *
embedded (vdm_source *source)
{
  return (vdm_embedded *) source;
}

static int
quiet_libbpf_print (enum libbpf_print_level level, const char *fmt, va_list args)
{
  /* libbpf explains verifier failures on stderr; keep that for debugging only. */
  if (!vdm_debug_switch (VDM_SWITCH_LIBBPF_DEBUG))
    return 0;
  return vfprintf (stderr, fmt, args);
}

static char *
explain_load_errno (int err, const char *what)
{
  err = err < 0 ? -err : err;
  if (err == EPERM || err == EACCES)
    return vdm_source_format_error ("%s: %s (needs root, or CAP_BPF with CAP_PERFMON; "
        "kernel.unprivileged_bpf_disabled does not apply to tracing programs)", what, strerror (err));
  return vdm_source_format_error ("%s: %s", what, strerror (err));
}

/* VDROPMON_BPF_EMULATE_6_1=1 loads what Debian 12's 6.1 kernel would get —
 * the 3-argument kfree_skb program (no rx_sk: attribution by 5-tuple) and
 * no sk_data_ready — so that path is tested on newer kernels too. */
static bool
emulate_6_1 (void)
{
  return vdm_debug_switch (VDM_SWITCH_EMULATE_6_1);
}

/* Without rx_sk, pair IPv4 UDP receive-buffer drops with the
 * udp_fail_queue_rcv_skb tracepoint, which names their socket (see
 * vdropmon.bpf.c, udp_pair). Needs the tracepoint and both reason codes.
 * Its form tells the order: (rc, sk) follows the drop (6.1-6.9);
 * (rc, sk, skb) precedes the drop of that skb (6.10+). */
static void
choose_udp_fail_pairing (vdm_embedded *source, const struct btf *vmlinux)
{
  uint32_t rcvbuff, proto_mem;
  int fail_args = vdm_btf_tracepoint_arg_count (vmlinux, "udp_fail_queue_rcv_skb");
  bool pair = !source->info.has_rx_sk && fail_args >= 2
      && vdm_reason_table_code (&source->reasons, "SOCKET_RCVBUFF", &rcvbuff) == 0
      && vdm_reason_table_code (&source->reasons, "PROTO_MEM", &proto_mem) == 0;
  bool names_skb = pair && fail_args >= 3;

  bpf_program__set_autoload (source->skel->progs.udp_fail, pair && !names_skb);
  bpf_program__set_autoload (source->skel->progs.udp_fail_skb, names_skb);
  source->skel->rodata->pair_udp_fail = pair;
  source->skel->rodata->udp_fail_names_skb = names_skb;
  if (pair) {
    source->skel->rodata->reason_socket_rcvbuff = rcvbuff;
    source->skel->rodata->reason_proto_mem = proto_mem;
  }
}

/* Picks the kfree_skb program matching this kernel and disables the others
 * that cannot load here. */
static char *
choose_programs (vdm_embedded *source, const struct btf *vmlinux)
{
  int kfree_args = vdm_btf_tracepoint_arg_count (vmlinux, "kfree_skb");
  int ready_args = vdm_btf_tracepoint_arg_count (vmlinux, "sk_data_ready");

  if (emulate_6_1 () && kfree_args >= 3) {
    kfree_args = 3;
    ready_args = -ENOENT;
  }
  if (kfree_args == 4)
    source->info.has_rx_sk = true;
  else if (kfree_args != 3)
    return vdm_source_format_error ("tracepoint skb:kfree_skb %s in the kernel BTF (need the 3-argument "
        "form of 5.17+ or the 4-argument form of 6.11+)",
        kfree_args < 0 ? "is missing" : "has an unknown form");
  bpf_program__set_autoload (source->skel->progs.kfree_skb_rx_sk, source->info.has_rx_sk);
  bpf_program__set_autoload (source->skel->progs.kfree_skb_legacy, !source->info.has_rx_sk);

  source->info.has_queue_fill = ready_args == 1;
  bpf_program__set_autoload (source->skel->progs.sk_data_ready, source->info.has_queue_fill);
  choose_udp_fail_pairing (source, vmlinux);
  return NULL;
}

static uint32_t
public_id (uint32_t slot, const watch_entry *watch)
{
  return slot | (watch->generation & GENERATION_MASK) << VDM_WATCH_SLOT_BITS;
}

/* source->lock held. An event queued while its watch was released, and
 * maybe reused since (an rtspsrc reconnect), belongs to nobody now: the id
 * carries the slot's generation, and a socket-named event the socket. */
static bool
is_current_event (vdm_embedded *source, uint32_t slot, const struct vdm_kernel_event *ev)
{
  const watch_entry *watch = &source->watches[slot];

  if (!watch->used || public_id (slot, watch) != ev->watch_id)
    return false;
  return !(ev->attributed_by == VDM_ATTR_SOCKET && ev->sock_cookie && watch->cookie
      && ev->sock_cookie != watch->cookie);
}

/* flow: the one the drop was matched on, or NULL for a drop its socket
 * named: then the watched socket's own flow (the kernel sends none). */
static void
dispatch_drop (vdm_embedded *source, const struct vdm_kernel_event *ev,
    const struct vdm_flow_key *flow)
{
  const char *name = vdm_reason_table_lookup (&source->reasons, ev->reason);
  vdm_drop drop = {
    .ktime_ns = ev->ktime_ns,
    .reason = ev->reason,
    .reason_name = name ? name : "UNKNOWN",
    .watch_id = ev->watch_id,
    .sock_cookie = ev->sock_cookie,
    .attributed_by = (enum vdm_attribution) ev->attributed_by,
    .skb_len = ev->skb_len,
    .payload = ev->payload,
    .payload_len = ev->payload_len <= VDM_PAYLOAD_BYTES ? ev->payload_len : VDM_PAYLOAD_BYTES,
  };
  uint32_t slot = VDM_WATCH_SLOT (ev->watch_id);
  watch_entry *watch;
  unsigned i;

  if (slot == 0 || slot >= source->n_slots)
    return;
  pthread_mutex_lock (&source->lock);
  watch = &source->watches[slot];
  if (!is_current_event (source, slot, ev)) {
    source->stale_events++;
    pthread_mutex_unlock (&source->lock);
    return;
  }
  drop.flow = flow ? *flow : watch->flow;
  for (i = 0; i < watch->n_subscribers; i++) {
    vdm_subscription *sub = watch->subscribers[i];
    sub->consumer.on_drop (sub->user_data, &drop);
  }
  pthread_mutex_unlock (&source->lock);
}

static int
on_ring_sample (void *ctx, void *data, size_t size)
{
  const struct vdm_kernel_event *ev = data;

  if (size < sizeof (*ev))
    return 0;
  if (ev->kind == VDM_EVENT_DROP)
    dispatch_drop (ctx, ev, NULL);
  else if (ev->kind == VDM_EVENT_DROP_FLOW && size >= sizeof (struct vdm_kernel_flow_event))
    dispatch_drop (ctx, ev, &((const struct vdm_kernel_flow_event *) data)->flow);
  return 0;
}

/* A ring error must not end the thread quietly: every watch would go blind
 * with nothing said. Say it (the first time, then every 1000th), count it,
 * pause one drain period so a persistent error cannot spin, and go on. */
static void
survive_ring_error (vdm_embedded *source, int err)
{
  unsigned long n = ++source->ring_errors;

  if (n == 1 || n % 1000 == 0)
    fprintf (stderr, "vdropmon: collector: reading the BPF ring buffer failed (%s), %lu time%s "
        "so far; drop events may be missing, the counters stay exact\n", strerror (-err), n,
        n == 1 ? "" : "s");
  usleep (DRAIN_PERIOD_MS * 1000);
}

/* Sleeps until the next drain is due: the drain period, or at once when
 * the ring asks (forced wakeup) or an unwatch is waiting (wake_fd). */
static void
wait_drain_due (vdm_embedded *source)
{
  struct pollfd fds[2] = {
    { .fd = ring_buffer__epoll_fd (source->ring), .events = POLLIN },
    { .fd = source->wake_fd, .events = POLLIN },
  };
  uint64_t count;

  if (poll (fds, 2, DRAIN_PERIOD_MS) > 0 && (fds[1].revents & POLLIN)) {
    if (read (source->wake_fd, &count, sizeof (count)) < 0) {
      /* EAGAIN: another pass took it; nothing to reset */
    }
  }
}

static void *
poll_ring (void *data)
{
  vdm_embedded *source = data;
  uint64_t pass;
  int err;

  while (!atomic_load (&source->stopping)) {
    wait_drain_due (source);
    pthread_mutex_lock (&source->drain_lock);
    pass = ++source->drains_started;
    pthread_mutex_unlock (&source->drain_lock);
    err = ring_buffer__consume (source->ring);
    pthread_mutex_lock (&source->drain_lock);
    source->drains_done = pass;
    pthread_cond_broadcast (&source->drain_cond);
    pthread_mutex_unlock (&source->drain_lock);
    if (err < 0 && err != -EINTR)
      survive_ring_error (source, err);
  }
  return NULL;
}

/* Returns once a drain pass that began after this call has finished: every
 * event the BPF program had submitted by then was delivered (or dropped as
 * stale). Bounded by UNWATCH_DRAIN_WAIT_MS; never on the collector thread
 * itself (a callback may not unwatch, but must not hang if it does). */
static void
wait_for_drain (vdm_embedded *source)
{
  struct timespec deadline;
  uint64_t target, one = 1;

  if (!source->ring || pthread_equal (pthread_self (), source->poll_thread))
    return;
  clock_gettime (CLOCK_MONOTONIC, &deadline);
  deadline.tv_nsec += UNWATCH_DRAIN_WAIT_MS * 1000000L;
  deadline.tv_sec += deadline.tv_nsec / 1000000000L;
  deadline.tv_nsec %= 1000000000L;
  pthread_mutex_lock (&source->drain_lock);
  target = source->drains_started + 1;
  if (write (source->wake_fd, &one, sizeof (one)) < 0) {
    /* the counter is saturated: a pass is due anyway */
  }
  while (source->drains_done < target && !atomic_load (&source->stopping))
    if (pthread_cond_timedwait (&source->drain_cond, &source->drain_lock, &deadline) == ETIMEDOUT)
      break;
  pthread_mutex_unlock (&source->drain_lock);
}

static void
destroy_source (vdm_embedded *source)
{
  if (source->ring) {
    atomic_store (&source->stopping, true);
    pthread_join (source->poll_thread, NULL);
    ring_buffer__free (source->ring);
  }
  vdropmon_bpf__destroy (source->skel); /* detaches every link */
  vdm_reason_table_clear (&source->reasons);
  if (source->wake_fd >= 0)
    close (source->wake_fd);
  pthread_cond_destroy (&source->drain_cond);
  pthread_mutex_destroy (&source->drain_lock);
  pthread_mutex_destroy (&source->lock);
  free (source->watches);
  free (source->live_ids);
  free (source->port_counts);
  free (source->sampled_lost);
  free (source->peaks_pending);
  pthread_mutex_destroy (&source->peak_lock);
  free (source);
}

/* The watch maps hold n_slots watches: set before load, so that one
 * program serves an element (a few sockets) or a host (thousands). */
static int
size_watch_maps (vdm_embedded *source)
{
  struct vdropmon_bpf *skel = source->skel;
  uint32_t n = source->n_slots;
  int err = 0;

  err = err ? err : bpf_map__set_max_entries (skel->maps.live_watches, n);
  err = err ? err : bpf_map__set_max_entries (skel->maps.watched_flows, n * VDM_FLOW_KEYS_PER_SLOT);
  err = err ? err : bpf_map__set_max_entries (skel->maps.drop_counters, n * VDM_REASON_SLOTS);
  err = err ? err : bpf_map__set_max_entries (skel->maps.events_lost, n);
  err = err ? err : bpf_map__set_max_entries (skel->maps.queue_peak, n);
  return err;
}

static char *
load_and_attach (vdm_embedded *source)
{
  struct btf *vmlinux;
  char *error;
  int err;

  vmlinux = btf__load_vmlinux_btf ();
  if (!vmlinux)
    return vdm_source_format_error ("kernel BTF is not available (/sys/kernel/btf/vmlinux: %s); "
        "CONFIG_DEBUG_INFO_BTF=y is needed", strerror (errno));
  if (vdm_reason_table_load (vmlinux, &source->reasons) < 0) {
    btf__free (vmlinux);
    return vdm_source_format_error ("enum skb_drop_reason is missing from the kernel BTF (kernel older than 5.17)");
  }
  source->skel = vdropmon_bpf__open ();
  if (!source->skel) {
    btf__free (vmlinux);
    return explain_load_errno (errno, "opening the BPF object failed");
  }
  error = choose_programs (source, vmlinux);
  btf__free (vmlinux);
  if (error)
    return error;
  err = size_watch_maps (source);
  if (err)
    return explain_load_errno (err, "sizing the BPF maps failed");
  err = vdropmon_bpf__load (source->skel);
  if (err)
    return explain_load_errno (err, "loading the BPF program failed");
  err = vdropmon_bpf__attach (source->skel);
  if (err)
    return explain_load_errno (err, "attaching to skb:kfree_skb failed");
  source->ring = ring_buffer__new (bpf_map__fd (source->skel->maps.events), on_ring_sample, source, NULL);
  if (!source->ring)
    return explain_load_errno (errno, "opening the BPF ring buffer failed");
  err = pthread_create (&source->poll_thread, NULL, poll_ring, source);
  if (err) {
    ring_buffer__free (source->ring);
    source->ring = NULL;
    return explain_load_errno (err, "starting the collector thread failed");
  }
  pthread_setname_np (source->poll_thread, "vdm-collector");
  return NULL;
}

/* libbpf has one process-wide print callback, possibly the host
 * application's: ours only while we load, then theirs again. */
static char *
load_and_attach_quietly (vdm_embedded *source)
{
  libbpf_print_fn_t previous = libbpf_set_print (quiet_libbpf_print);
  char *error = load_and_attach (source);

  libbpf_set_print (previous);
  return error;
}

static vdm_embedded *
create_source (char **error)
{
  vdm_embedded *source = calloc (1, sizeof (*source));

  if (!source) {
    *error = vdm_source_format_error ("out of memory");
    return NULL;
  }
  vdm_source_init (&source->base, &embedded_ops);
  pthread_mutex_init (&source->lock, NULL);
  pthread_mutex_init (&source->peak_lock, NULL);
  pthread_mutex_init (&source->drain_lock, NULL);
  {
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&source->drain_cond, &attr);
    pthread_condattr_destroy (&attr);
  }
  source->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  source->info.name = "embedded";
  source->n_slots = requested_slots;
  source->watches = calloc (source->n_slots, sizeof (*source->watches));
  source->live_ids = calloc (source->n_slots, sizeof (*source->live_ids));
  source->port_counts = calloc (65536, sizeof (*source->port_counts));
  source->n_cpus = libbpf_num_possible_cpus ();
  if (!source->watches || !source->live_ids || !source->port_counts)
    *error = vdm_source_format_error ("out of memory for %u watch slots", source->n_slots);
  else if (source->wake_fd < 0)
    *error = vdm_source_format_error ("eventfd: %s", strerror (errno));
  else
    *error = source->n_cpus > 0 ? load_and_attach_quietly (source)
        : vdm_source_format_error ("cannot count the possible CPUs");
  if (*error) {
    destroy_source (source);
    return NULL;
  }
  return source;
}

/* Takes a reference unless the count already reached 0: then the last
 * unref is on its way to embedded_destroy and the source must not be
 * handed out again. */
static bool
ref_if_alive (vdm_source *source)
{
  int count = __atomic_load_n (&source->refcount, __ATOMIC_RELAXED);

  while (count > 0)
    if (__atomic_compare_exchange_n (&source->refcount, &count, count + 1, true,
            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      return true;
  return false;
}

static uint64_t
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static privilege
current_privilege (void)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct data[2] = { { 0 } };
  privilege who = { .euid = geteuid () };

  if (syscall (SYS_capget, &header, data) == 0)
    who.effective_caps = (uint64_t) data[1].effective << 32 | data[0].effective;
  return who;
}

/* shared_lock held. The remembered failure, if it still applies. */
static char *
remembered_failure (void)
{
  privilege who;

  if (!last_failure || monotonic_ns () - last_failure_ns > FAILURE_MEMORY_NS)
    return NULL;
  who = current_privilege ();
  if (who.euid != last_failure_privilege.euid
      || who.effective_caps != last_failure_privilege.effective_caps)
    return NULL;
  return strdup (last_failure);
}

/* shared_lock held. */
static void
remember_failure (const char *error)
{
  free (last_failure);
  last_failure = error ? strdup (error) : NULL;
  last_failure_privilege = current_privilege ();
  last_failure_ns = monotonic_ns ();
}

vdm_source *
vdm_source_open_embedded (char **error)
{
  vdm_embedded *source = NULL;

  *error = NULL;
  pthread_mutex_lock (&shared_lock);
  if (shared_source && ref_if_alive (&shared_source->base))
    source = shared_source;
  else if (!(*error = remembered_failure ())) {
    load_attempts++;
    source = shared_source = create_source (error); /* a dying one finishes on its own */
    remember_failure (source ? NULL : *error);
  }
  pthread_mutex_unlock (&shared_lock);
  return source ? &source->base : NULL;
}

int
vdm_embedded_set_capacity (unsigned max_watches)
{
  int err = 0;

  if (max_watches == 0 || max_watches >= VDM_WATCH_SLOTS_MAX)
    return -EINVAL;
  pthread_mutex_lock (&shared_lock);
  if (shared_source && shared_source->n_slots != max_watches + 1)
    err = -EBUSY;
  else
    requested_slots = max_watches + 1;
  pthread_mutex_unlock (&shared_lock);
  return err;
}

int
vdm_embedded_table (vdm_source *base, unsigned *in_use, unsigned *capacity)
{
  vdm_embedded *source;

  if (!base || base->ops != &embedded_ops)
    return -ENOTSUP;
  source = embedded (base);
  pthread_mutex_lock (&source->lock);
  *in_use = source->n_used;
  *capacity = source->n_slots - 1;
  pthread_mutex_unlock (&source->lock);
  return 0;
}

/* Starts a new queue-peak period, after a reset of queue_peak: every
 * watched socket's stored peak then counts as 0, so its next packet raises
 * queue_peak again (see sk_data_ready). */
static void
next_peak_period (vdm_embedded *source)
{
  __atomic_fetch_add (&source->skel->bss->queue_peak_epoch, 1, __ATOMIC_RELAXED);
}

/* Resets the queue peaks that were read (the others are 0 already), then
 * starts a new period. A sample landing between the read and the reset is
 * lost to this period only (the next packet sets the peak again), as in
 * queue_peak(). */
static int
reset_peaks (vdm_embedded *source, unsigned n, const uint64_t *peaks)
{
  int fd = bpf_map__fd (source->skel->maps.queue_peak);
  uint64_t *zeros = calloc ((size_t) source->n_cpus, sizeof (*zeros));
  uint32_t slot;
  bool any = false;

  if (!zeros)
    return -ENOMEM;
  for (slot = 1; slot < n; slot++)
    if (peaks[slot]) {
      bpf_map_update_elem (fd, &slot, zeros, BPF_ANY);
      any = true;
    }
  free (zeros);
  if (any)
    next_peak_period (source);
  return 0;
}

/* The whole table in batched reads, and only what moved: the program's
 * health counters say whether any peak rose or any event was lost since
 * the last sample, so a quiet table costs one system call, however many
 * watches it holds. */
int
vdm_embedded_sample (vdm_source *base, unsigned n, uint64_t *peaks, uint64_t *lost)
{
  uint64_t health[VDM_HEALTH_SLOTS];
  vdm_embedded *source;
  bool peaks_rose, events_lost;
  int err;

  if (!base || base->ops != &embedded_ops)
    return -ENOTSUP;
  source = embedded (base);
  if (n > source->n_slots)
    n = source->n_slots;
  if (!source->sampled_lost
      && !(source->sampled_lost = calloc (source->n_slots, sizeof (*source->sampled_lost))))
    return -ENOMEM;
  /* first: a rise or loss after this read shows at the next sample */
  err = vdm_percpu_sum_range (bpf_map__fd (source->skel->maps.health), 0, VDM_HEALTH_SLOTS,
      source->n_cpus, health);
  if (err < 0)
    return err;
  events_lost = !source->sampled_once
      || health[VDM_HEALTH_RINGBUF_LOST] != source->sampled_ringbuf_lost;
  peaks_rose = source->info.has_queue_fill && (!source->sampled_once
      || health[VDM_HEALTH_QUEUE_PEAKS] != source->sampled_peaks_raised);
  if (events_lost) {
    err = vdm_percpu_sum_range (bpf_map__fd (source->skel->maps.events_lost), 0, n,
        source->n_cpus, source->sampled_lost);
    if (err < 0)
      return err;
  }
  memcpy (lost, source->sampled_lost, n * sizeof (*lost));
  memset (peaks, 0, n * sizeof (*peaks));
  if (peaks_rose) {
    err = vdm_percpu_max_range (bpf_map__fd (source->skel->maps.queue_peak), 0, n,
        source->n_cpus, peaks);
    err = err < 0 ? err : reset_peaks (source, n, peaks);
    if (err < 0)
      return err;
  }
  source->sampled_ringbuf_lost = health[VDM_HEALTH_RINGBUF_LOST];
  source->sampled_peaks_raised = health[VDM_HEALTH_QUEUE_PEAKS];
  source->sampled_once = true;
  return (int) n;
}

unsigned long
vdm_embedded_load_attempts (void)
{
  unsigned long n;

  pthread_mutex_lock (&shared_lock);
  n = load_attempts;
  pthread_mutex_unlock (&shared_lock);
  return n;
}

static void
embedded_destroy (vdm_source *base)
{
  vdm_embedded *source = embedded (base);

  pthread_mutex_lock (&shared_lock);
  if (shared_source == source)
    shared_source = NULL;
  pthread_mutex_unlock (&shared_lock);
  destroy_source (source);
}

static void
embedded_get_info (vdm_source *base, vdm_source_info *info)
{
  vdm_embedded *source = embedded (base);
  *info = source->info;
}

static vdm_subscription *
embedded_subscribe (vdm_source *base, const vdm_consumer *consumer, void *user_data)
{
  vdm_embedded *source = embedded (base);
  vdm_subscription *sub = calloc (1, sizeof (*sub));

  if (!sub)
    return NULL;
  sub->consumer = *consumer;
  sub->user_data = user_data;
  pthread_mutex_lock (&source->lock);
  sub->next = source->subscriptions;
  source->subscriptions = sub;
  pthread_mutex_unlock (&source->lock);
  return sub;
}

/* Counts the installed flow keys per local port and keeps the program's
 * bitmap (watched_port_bits, mmapped global data) saying which ports have
 * any. source->lock held: the only writer; the program only reads, and a
 * word is stored whole. */
static void
count_installed_key (vdm_embedded *source, const struct vdm_flow_key *key, int delta)
{
  uint16_t port = key->local_port;
  __u64 *word = &source->skel->bss->watched_port_bits[port / 64];
  __u64 bit = 1ull << (port % 64);
  uint32_t *count = &source->port_counts[port];

  *count = delta < 0 && *count == 0 ? 0 : *count + delta;
  __atomic_store_n (word, *count ? *word | bit : *word & ~bit, __ATOMIC_RELAXED);
}

/* Zeroes the per-CPU slots a reused slot may still hold: its 256 reason
 * counters in one batched update (percpu_read.h), then its lost events
 * and queue peak. */
static void
reset_watch_counters (vdm_embedded *source, uint32_t slot)
{
  uint64_t *zeros = calloc ((size_t) source->n_cpus, sizeof (uint64_t));
  uint32_t key = slot;

  vdm_percpu_zero_range (bpf_map__fd (source->skel->maps.drop_counters),
      slot * VDM_REASON_SLOTS, VDM_REASON_SLOTS, source->n_cpus);
  if (!zeros)
    return;
  bpf_map_update_elem (bpf_map__fd (source->skel->maps.events_lost), &key, zeros, BPF_ANY);
  if (source->sampled_lost)
    source->sampled_lost[slot] = 0;
  bpf_map_update_elem (bpf_map__fd (source->skel->maps.queue_peak), &key, zeros, BPF_ANY);
  pthread_mutex_lock (&source->peak_lock);
  if (source->peaks_pending)
    source->peaks_pending[slot] = 0;
  pthread_mutex_unlock (&source->peak_lock);
  free (zeros);
}

/* The kernel stops counting and reporting drops for this watch (its
 * cookie and the flow keys it owns leave the maps); the slot itself stays
 * until released. Idempotent. */
static void
stop_matching (vdm_embedded *source, uint32_t slot)
{
  watch_entry *watch = &source->watches[slot];
  unsigned i;

  uint32_t no_id = 0;

  if (watch->draining)
    return;
  /* The socket keeps its storage (we may hold no fd of it any more): the
   * program counts only ids that are live here. */
  bpf_map_update_elem (bpf_map__fd (source->skel->maps.live_watches), &slot, &no_id, BPF_ANY);
  for (i = 0; i < watch->n_keys; i++) {
    if (!watch->owns_key[i])
      continue;
    bpf_map_delete_elem (bpf_map__fd (source->skel->maps.watched_flows), &watch->keys[i]);
    count_installed_key (source, &watch->keys[i], -1);
    watch->owns_key[i] = false;
  }
  watch->draining = true;
}

static void
release_kernel_keys (vdm_embedded *source, uint32_t slot)
{
  watch_entry *watch = &source->watches[slot];
  uint32_t generation = watch->generation + 1;

  stop_matching (source, slot);
  atomic_store (&source->live_ids[slot], 0);
  memset (watch, 0, sizeof (*watch));
  watch->generation = generation;
  source->n_used--;
}

/* Marks the socket itself as watched (socket-local storage, through its
 * fd): what kfree_skb and sk_data_ready read to find its watch. */
static int
mark_socket (vdm_embedded *source, int fd, uint32_t id)
{
  struct vdm_socket_watch value = { .watch_id = id };

  if (bpf_map_update_elem (bpf_map__fd (source->skel->maps.socket_watches), &fd, &value,
          BPF_ANY) < 0)
    return -errno;
  return 0;
}

static int
install_kernel_keys (vdm_embedded *source, uint32_t slot, int fd)
{
  watch_entry *watch = &source->watches[slot];
  uint32_t id = public_id (slot, watch);
  unsigned i;
  int err;

  reset_watch_counters (source, slot);
  err = bpf_map_update_elem (bpf_map__fd (source->skel->maps.live_watches), &slot, &id, BPF_ANY);
  if (err)
    return -errno;
  if (watch->cookie && (err = mark_socket (source, fd, id)))
    return err;
  /* A key already installed by another watch (two sockets sharing a port
   * with SO_REUSEPORT) keeps its first owner: socket-named drops still go
   * by cookie. A flow named by hand joins that owner instead (find_watch). */
  for (i = 0; i < watch->n_keys; i++) {
    if (bpf_map_update_elem (bpf_map__fd (source->skel->maps.watched_flows), &watch->keys[i], &id,
            BPF_NOEXIST) == 0) {
      watch->owns_key[i] = true;
      count_installed_key (source, &watch->keys[i], +1);
    }
  }
  atomic_store (&source->live_ids[slot], id);
  return 0;
}

static int
resolve_spec (const vdm_watch_spec *spec, uint64_t *cookie, struct vdm_flow_key *flow)
{
  socklen_t len = sizeof (*cookie);

  *cookie = 0;
  if (spec->fd < 0) {
    *flow = spec->flow;
    /* By hand: in the namespace of the thread that asks. */
    if (!flow->netns)
      flow->netns = vdm_current_netns_cookie ();
    return flow->local_port ? 0 : -EINVAL;
  }
  if (getsockopt (spec->fd, SOL_SOCKET, SO_COOKIE, cookie, &len) < 0)
    return -errno;
  return vdm_flow_from_socket (spec->fd, flow);
}

/* The slot a spec shares: the same socket, or for a flow named by hand, the
 * same flow, or a watch that already owns its first key (else that flow
 * would be watched twice and match only once: issue 9, #8). */
static uint32_t
find_watch (vdm_embedded *source, uint64_t cookie, const struct vdm_flow_key *flow,
    const struct vdm_flow_key *first_key)
{
  uint32_t slot, owner = 0;

  for (slot = 1; slot < source->n_slots; slot++) {
    const watch_entry *watch = &source->watches[slot];
    if (!watch->used || watch->draining)
      continue;                 /* a draining slot never matches again: a new one instead */
    if (cookie ? watch->cookie == cookie
        : watch->cookie == 0 && memcmp (&watch->flow, flow, sizeof (*flow)) == 0)
      return slot;
  }
  if (!cookie && bpf_map_lookup_elem (bpf_map__fd (source->skel->maps.watched_flows), first_key,
          &owner) == 0 && VDM_WATCH_SLOT (owner) < source->n_slots
      && source->watches[VDM_WATCH_SLOT (owner)].used
      && !source->watches[VDM_WATCH_SLOT (owner)].draining)
    return VDM_WATCH_SLOT (owner);
  return 0;
}

static int
add_subscriber (watch_entry *watch, vdm_subscription *sub)
{
  unsigned i;

  for (i = 0; i < watch->n_subscribers; i++)
    if (watch->subscribers[i] == sub)
      return 0;
  if (watch->n_subscribers == MAX_SUBSCRIBERS_PER_WATCH)
    return -ENOSPC;
  watch->subscribers[watch->n_subscribers++] = sub;
  return 0;
}

static int
create_watch (vdm_embedded *source, int fd, uint64_t cookie, const struct vdm_flow_key *flow,
    const struct vdm_flow_key *keys, unsigned n_keys)
{
  uint32_t slot;
  watch_entry *watch;
  int err;

  for (slot = 1; slot < source->n_slots && source->watches[slot].used; slot++)
    ;
  if (slot == source->n_slots)
    return -ENOSPC;             /* the table is full: the caller says so, nothing breaks */
  watch = &source->watches[slot];
  watch->used = true;
  source->n_used++;
  watch->cookie = cookie;
  watch->flow = *flow;
  memcpy (watch->keys, keys, n_keys * sizeof (*keys));
  watch->n_keys = n_keys;
  err = install_kernel_keys (source, slot, fd);
  if (err) {
    release_kernel_keys (source, slot);
    return err;
  }
  return (int) slot;
}

static int
embedded_watch (vdm_source *base, vdm_subscription *sub, const vdm_watch_spec *spec)
{
  vdm_embedded *source = embedded (base);
  struct vdm_flow_key flow, keys[VDM_MAX_KEYS_PER_WATCH];
  uint64_t cookie;
  int slot, err, n_keys;

  err = resolve_spec (spec, &cookie, &flow);
  if (err)
    return err;
  n_keys = vdm_watch_flow_keys (&flow, spec->fd, keys, VDM_MAX_KEYS_PER_WATCH);
  pthread_mutex_lock (&source->lock);
  slot = (int) find_watch (source, cookie, &flow, &keys[0]);
  if (!slot)
    slot = create_watch (source, spec->fd, cookie, &flow, keys, (unsigned) n_keys);
  if (slot > 0) {
    err = add_subscriber (&source->watches[slot], sub);
    if (err && source->watches[slot].n_subscribers == 0)
      release_kernel_keys (source, (uint32_t) slot);
    slot = err ? err : (int) public_id ((uint32_t) slot, &source->watches[slot]);
  }
  pthread_mutex_unlock (&source->lock);
  return slot;
}

static void
remove_subscriber (vdm_embedded *source, uint32_t slot, vdm_subscription *sub)
{
  watch_entry *watch = &source->watches[slot];
  unsigned i;

  for (i = 0; i < watch->n_subscribers; i++) {
    if (watch->subscribers[i] != sub)
      continue;
    watch->subscribers[i] = watch->subscribers[--watch->n_subscribers];
    break;
  }
  if (watch->used && watch->n_subscribers == 0)
    release_kernel_keys (source, slot);
}

/* The slot of a public id that is still current, else 0. */
static uint32_t
live_slot (vdm_embedded *source, uint32_t watch_id)
{
  uint32_t slot = VDM_WATCH_SLOT (watch_id);

  return slot && slot < source->n_slots && atomic_load (&source->live_ids[slot]) == watch_id
      ? slot : 0;
}

static int read_slot_counters (vdm_embedded *source, uint32_t slot, vdm_counters *out);

static bool
only_subscriber (const watch_entry *watch, const vdm_subscription *sub)
{
  return watch->n_subscribers == 1 && watch->subscribers[0] == sub;
}

/* Unwatching delivers first what the ring still holds for the watch — the
 * drops of a socket's last moments (a TCP connection's close: QUEUE_PURGE,
 * TCP_ABORT_ON_DATA) — so that they reach the subscriber while it still
 * knows the watch, instead of being dropped as stale: the kernel stops
 * matching, the collector thread drains, then the slot is released and its
 * final counters read (out, when asked), which therefore include exactly
 * the drops that were delivered. */
static int
unwatch_draining (vdm_embedded *source, vdm_subscription *sub, uint32_t watch_id,
    vdm_counters *out)
{
  uint32_t slot;
  int err = 0;

  pthread_mutex_lock (&source->lock);
  slot = live_slot (source, watch_id);
  if (slot && only_subscriber (&source->watches[slot], sub))
    stop_matching (source, slot);
  pthread_mutex_unlock (&source->lock);
  if (!slot)
    return -ENOENT;
  wait_for_drain (source);
  pthread_mutex_lock (&source->lock);
  if (live_slot (source, watch_id) == slot) {
    if (out)
      err = read_slot_counters (source, slot, out);
    remove_subscriber (source, slot, sub);
  } else
    err = -ENOENT;
  pthread_mutex_unlock (&source->lock);
  return err;
}

static void
embedded_unwatch (vdm_source *base, vdm_subscription *sub, uint32_t watch_id)
{
  unwatch_draining (embedded (base), sub, watch_id, NULL);
}

static int
embedded_unwatch_final (vdm_source *base, vdm_subscription *sub, uint32_t watch_id,
    vdm_counters *out)
{
  return unwatch_draining (embedded (base), sub, watch_id, out);
}

static void
embedded_unsubscribe (vdm_source *base, vdm_subscription *sub)
{
  vdm_embedded *source = embedded (base);
  vdm_subscription **link;
  uint32_t slot;

  /* Dispatch holds the lock, so once we have it no callback of sub is running. */
  pthread_mutex_lock (&source->lock);
  for (slot = 1; slot < source->n_slots; slot++)
    if (source->watches[slot].used)
      remove_subscriber (source, slot, sub);
  for (link = &source->subscriptions; *link; link = &(*link)->next) {
    if (*link == sub) {
      *link = sub->next;
      break;
    }
  }
  pthread_mutex_unlock (&source->lock);
  free (sub);
}

static uint64_t
sum_percpu (int map_fd, uint32_t key, uint64_t *values, int n_cpus)
{
  uint64_t total = 0;
  int cpu;

  if (bpf_map_lookup_elem (map_fd, &key, values) < 0)
    return 0;
  for (cpu = 0; cpu < n_cpus; cpu++)
    total += values[cpu];
  return total;
}

/* The slot's 256 reason slots in one batched read (percpu_read.h), and
 * its lost events: two bpf() calls, not 257. */
static int
read_slot_counters (vdm_embedded *source, uint32_t slot, vdm_counters *out)
{
  uint64_t *values;
  uint32_t reason;
  int err;

  memset (out, 0, sizeof (*out));
  err = vdm_percpu_sum_range (bpf_map__fd (source->skel->maps.drop_counters),
      slot * VDM_REASON_SLOTS, VDM_REASON_SLOTS, source->n_cpus, out->per_reason);
  if (err < 0)
    return err;
  for (reason = 0; reason < VDM_REASON_SLOTS; reason++)
    out->total += out->per_reason[reason];
  values = calloc (source->n_cpus, sizeof (uint64_t));
  if (!values)
    return -ENOMEM;
  out->ringbuf_lost = sum_percpu (bpf_map__fd (source->skel->maps.events_lost), slot, values,
      source->n_cpus);
  free (values);
  return 0;
}

static int
embedded_counters (vdm_source *base, uint32_t watch_id, vdm_counters *out)
{
  vdm_embedded *source = embedded (base);
  uint32_t slot;

  memset (out, 0, sizeof (*out));
  if (VDM_WATCH_SLOT (watch_id) == 0)
    return -EINVAL;
  slot = live_slot (source, watch_id);
  if (!slot)
    return -ENOENT; /* released: its slot may count for someone else now */
  return read_slot_counters (source, slot, out);
}

/* One per-CPU lookup, not the 256 of embedded_counters(). */
static int
embedded_events_lost (vdm_source *base, uint32_t watch_id, uint64_t *out)
{
  vdm_embedded *source = embedded (base);
  uint64_t *values;
  uint32_t slot;

  *out = 0;
  if (VDM_WATCH_SLOT (watch_id) == 0)
    return -EINVAL;
  slot = live_slot (source, watch_id);
  if (!slot)
    return -ENOENT;
  values = calloc (source->n_cpus, sizeof (uint64_t));
  if (!values)
    return -ENOMEM;
  *out = sum_percpu (bpf_map__fd (source->skel->maps.events_lost), slot, values,
      source->n_cpus);
  free (values);
  return 0;
}

/* Every slot's queue peak into peaks_pending (the highest since each
 * slot's last take), and the kernel's reset: the health counter first, so
 * that a table where no peak rose since the last read costs one call; else
 * one batched read and one batched zeroing (percpu_read.h), then a new
 * period (next_peak_period: the sockets raise their peaks again). A sample
 * landing between the read and the reset is lost to this period only: the
 * next packet sets the peak again. Under peak_lock. */
static void
sample_peaks_locked (vdm_embedded *source, uint64_t now)
{
  uint64_t health[VDM_HEALTH_SLOTS], *peaks;
  uint32_t slot;

  source->peaks_sampled_ns = now;
  if (vdm_percpu_sum_range (bpf_map__fd (source->skel->maps.health), 0, VDM_HEALTH_SLOTS,
          source->n_cpus, health) < 0)
    health[VDM_HEALTH_QUEUE_PEAKS] = source->peaks_health + 1;  /* read the peaks anyway */
  if (source->peaks_sampled && health[VDM_HEALTH_QUEUE_PEAKS] == source->peaks_health)
    return;
  peaks = calloc (source->n_slots, sizeof (*peaks));
  if (!peaks)
    return;
  if (vdm_percpu_max_range (bpf_map__fd (source->skel->maps.queue_peak), 0, source->n_slots,
          source->n_cpus, peaks) == 0) {
    for (slot = 1; slot < source->n_slots; slot++)
      if (peaks[slot] > source->peaks_pending[slot])
        source->peaks_pending[slot] = peaks[slot];
    vdm_percpu_zero_range (bpf_map__fd (source->skel->maps.queue_peak), 1, source->n_slots - 1,
        source->n_cpus);
    next_peak_period (source);
  }
  free (peaks);
  source->peaks_health = health[VDM_HEALTH_QUEUE_PEAKS];
  source->peaks_sampled = true;
}

/* The highest fill since this watch's last call: from the table's last
 * read if that is at most PEAK_SAMPLE_NS old (the elements' rounds of one
 * detector bin come together: one read serves them all), else from a new
 * read. */
static int
embedded_queue_peak (vdm_source *base, uint32_t watch_id)
{
  vdm_embedded *source = embedded (base);
  uint32_t key = live_slot (source, watch_id);
  uint64_t now, peak = 0;

  if (!source->info.has_queue_fill || key == 0)
    return -1;
  now = monotonic_ns ();
  pthread_mutex_lock (&source->peak_lock);
  if (!source->peaks_pending)
    source->peaks_pending = calloc (source->n_slots, sizeof (*source->peaks_pending));
  if (source->peaks_pending) {
    if (!source->peaks_sampled || now - source->peaks_sampled_ns >= PEAK_SAMPLE_NS)
      sample_peaks_locked (source, now);
    peak = source->peaks_pending[key];
    source->peaks_pending[key] = 0;
  }
  pthread_mutex_unlock (&source->peak_lock);
  return (int) peak;
}

static const char *
embedded_reason_name (vdm_source *base, uint32_t reason)
{
  vdm_embedded *source = embedded (base);
  const char *name = vdm_reason_table_lookup (&source->reasons, reason);
  return name ? name : "UNKNOWN";
}

static const vdm_source_ops embedded_ops = {
  .name = "embedded",
  .destroy = embedded_destroy,
  .get_info = embedded_get_info,
  .subscribe = embedded_subscribe,
  .unsubscribe = embedded_unsubscribe,
  .watch = embedded_watch,
  .unwatch = embedded_unwatch,
  .unwatch_final = embedded_unwatch_final,
  .counters = embedded_counters,
  .events_lost = embedded_events_lost,
  .queue_peak = embedded_queue_peak,
  .reason_name = embedded_reason_name,
};

static int
program_fd (vdm_embedded *source, vdm_program which)
{
  switch (which) {
    case VDM_PROGRAM_KFREE_SKB:
      return bpf_program__fd (source->info.has_rx_sk ? source->skel->progs.kfree_skb_rx_sk
          : source->skel->progs.kfree_skb_legacy);
    case VDM_PROGRAM_SK_DATA_READY:
      return source->info.has_queue_fill ? bpf_program__fd (source->skel->progs.sk_data_ready) : -1;
  }
  return -1;
}

int
vdm_embedded_program_stats (vdm_source *base, vdm_program which, uint64_t *run_time_ns,
    uint64_t *run_count)
{
  struct bpf_prog_info info;
  uint32_t len = sizeof (info);
  int fd;

  if (!base || base->ops != &embedded_ops)
    return -ENOTSUP;
  fd = program_fd (embedded (base), which);
  memset (&info, 0, sizeof (info));
  if (fd < 0)
    return -ENOENT;
  if (bpf_obj_get_info_by_fd (fd, &info, &len) < 0)
    return -errno;
  *run_time_ns = info.run_time_ns;
  *run_count = info.run_cnt;
  return 0;
}

int
vdm_embedded_health (vdm_source *base, enum vdm_health slot, uint64_t *value)
{
  vdm_embedded *source;
  uint64_t *values;

  if (!base || base->ops != &embedded_ops)
    return -ENOTSUP;
  source = embedded (base);
  values = calloc (source->n_cpus, sizeof (uint64_t));
  if (!values)
    return -ENOMEM;
  *value = sum_percpu (bpf_map__fd (source->skel->maps.health), slot, values, source->n_cpus);
  free (values);
  return 0;
}
