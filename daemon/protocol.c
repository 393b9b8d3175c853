/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * protocol.c — encode/decode of vdropmond frames (protocol.h). Explicit
 * little-endian byte order, every read bounds-checked through one cursor
 * that latches its first error, so no decoder path can read past the frame.
 */
#include "protocol.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
  uint8_t *buf;
  size_t cap, len;
  bool full;
} writer;

typedef struct {
  const uint8_t *buf;
  size_t len, pos;
  const char *error;            /* first error, static text */
} reader;

/* ---- writer ---------------------------------------------------------- */

static void
put_bytes (writer *w, const void *data, size_t n)
{
  if (w->full || w->cap - w->len < n) {
    w->full = true;
    return;
  }
  memcpy (w->buf + w->len, data, n);
  w->len += n;
}

static void
put_u8 (writer *w, uint8_t v)
{
  put_bytes (w, &v, 1);
}

static void
put_u16 (writer *w, uint16_t v)
{
  uint8_t b[2] = { (uint8_t) v, (uint8_t) (v >> 8) };
  put_bytes (w, b, 2);
}

static void
put_u32 (writer *w, uint32_t v)
{
  uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
  put_bytes (w, b, 4);
}

static void
put_u64 (writer *w, uint64_t v)
{
  put_u32 (w, (uint32_t) v);
  put_u32 (w, (uint32_t) (v >> 32));
}

static void
put_str (writer *w, const char *s)
{
  size_t n = strlen (s);
  put_u16 (w, (uint16_t) n);
  put_bytes (w, s, n);
}

/* ---- reader ---------------------------------------------------------- */

static bool
take (reader *r, size_t n, const char *what)
{
  if (r->error)
    return false;
  if (r->len - r->pos < n) {
    r->error = what;
    return false;
  }
  return true;
}

static uint8_t
get_u8 (reader *r, const char *what)
{
  if (!take (r, 1, what))
    return 0;
  return r->buf[r->pos++];
}

static uint16_t
get_u16 (reader *r, const char *what)
{
  uint16_t v;
  if (!take (r, 2, what))
    return 0;
  v = (uint16_t) (r->buf[r->pos] | r->buf[r->pos + 1] << 8);
  r->pos += 2;
  return v;
}

static uint32_t
get_u32 (reader *r, const char *what)
{
  uint32_t v;
  if (!take (r, 4, what))
    return 0;
  v = (uint32_t) r->buf[r->pos] | (uint32_t) r->buf[r->pos + 1] << 8
      | (uint32_t) r->buf[r->pos + 2] << 16 | (uint32_t) r->buf[r->pos + 3] << 24;
  r->pos += 4;
  return v;
}

static uint64_t
get_u64 (reader *r, const char *what)
{
  uint64_t lo = get_u32 (r, what);
  uint64_t hi = get_u32 (r, what);
  return lo | hi << 32;
}

static void
get_bytes (reader *r, void *out, size_t n, const char *what)
{
  if (!take (r, n, what))
    return;
  memcpy (out, r->buf + r->pos, n);
  r->pos += n;
}

static void
fail (reader *r, const char *what)
{
  if (!r->error)
    r->error = what;
}

/* Strings: u16 length, bytes, no NUL and no control characters, at most max. */
static void
get_str (reader *r, char *out, size_t max, const char *what)
{
  uint16_t n = get_u16 (r, what);
  size_t i;

  out[0] = '\0';
  if (r->error)
    return;
  if (n > max) {
    fail (r, what);
    return;
  }
  get_bytes (r, out, n, what);
  if (r->error)
    return;
  out[n] = '\0';
  for (i = 0; i < n; i++) {
    if ((unsigned char) out[i] < 0x20 || out[i] == 0x7f) {
      out[0] = '\0';
      fail (r, what);
      return;
    }
  }
}

static bool
str_ok (const char *s, size_t max)
{
  size_t i, n = strnlen (s, max + 1);
  if (n > max)
    return false;
  for (i = 0; i < n; i++)
    if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
      return false;
  return true;
}

static bool
key_ok (const char *s)
{
  size_t i, n = strnlen (s, VDM_PROTO_KEY_MAX + 1);
  if (n == 0 || n > VDM_PROTO_KEY_MAX)
    return false;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* ---- flows ----------------------------------------------------------- */

static bool
flow_ok (const vdm_proto_flow *f)
{
  return (f->family == AF_INET || f->family == AF_INET6) && (f->protocol == 6 || f->protocol == 17);
}

static void
put_flow (writer *w, const vdm_proto_flow *f)
{
  put_u8 (w, f->family);
  put_u8 (w, f->protocol);
  put_u16 (w, f->local_port);
  put_u16 (w, f->remote_port);
  put_bytes (w, f->local_addr, 16);
  put_bytes (w, f->remote_addr, 16);
  put_u64 (w, f->netns_cookie);
}

static void
get_flow (reader *r, vdm_proto_flow *f)
{
  f->family = get_u8 (r, "flow family");
  f->protocol = get_u8 (r, "flow protocol");
  f->local_port = get_u16 (r, "flow local port");
  f->remote_port = get_u16 (r, "flow remote port");
  get_bytes (r, f->local_addr, 16, "flow local address");
  get_bytes (r, f->remote_addr, 16, "flow remote address");
  f->netns_cookie = get_u64 (r, "flow netns cookie");
  if (!r->error && !flow_ok (f))
    fail (r, "flow family/protocol is not IPv4/IPv6 UDP/TCP");
}

/* ---- per message ----------------------------------------------------- */

static bool
attribution_ok (uint8_t a)
{
  return a >= VDM_PROTO_ATTR_SOCKET && a <= VDM_PROTO_ATTR_CATCH_UP;
}

static bool
drop_ok (const vdm_proto_drop *d)
{
  return attribution_ok (d->attribution) && d->payload_len <= VDM_PROTO_PAYLOAD_BYTES
      && d->watch_id != 0 && str_ok (d->reason_name, VDM_PROTO_REASON_NAME_MAX)
      && d->reason_name[0] && flow_ok (&d->flow);
}

static void
put_drop (writer *w, const vdm_proto_drop *d)
{
  put_u64 (w, d->ktime_ns);
  put_u64 (w, d->sock_cookie);
  put_u32 (w, d->reason);
  put_u32 (w, d->watch_id);
  put_u32 (w, d->skb_len);
  put_u8 (w, d->attribution);
  put_flow (w, &d->flow);
  put_str (w, d->reason_name);
  put_u8 (w, d->payload_len);
  put_bytes (w, d->payload, d->payload_len);
}

static void
get_drop (reader *r, vdm_proto_drop *d)
{
  d->ktime_ns = get_u64 (r, "drop time");
  d->sock_cookie = get_u64 (r, "drop socket cookie");
  d->reason = get_u32 (r, "drop reason");
  d->watch_id = get_u32 (r, "drop watch id");
  d->skb_len = get_u32 (r, "drop skb length");
  d->attribution = get_u8 (r, "drop attribution");
  get_flow (r, &d->flow);
  get_str (r, d->reason_name, VDM_PROTO_REASON_NAME_MAX, "drop reason name");
  d->payload_len = get_u8 (r, "drop payload length");
  if (!r->error && d->payload_len > VDM_PROTO_PAYLOAD_BYTES)
    fail (r, "drop payload length above 64");
  get_bytes (r, d->payload, d->payload_len, "drop payload");
  if (!r->error && !drop_ok (d))
    fail (r, "drop record out of range (attribution, watch id or reason name)");
}

static bool
encode_body (writer *w, const vdm_msg *m)
{
  unsigned i;

  switch ((vdm_msg_type) m->type) {
    case VDM_MSG_HELLO:
      if (!str_ok (m->u.hello.client_name, VDM_PROTO_NAME_MAX))
        return false;
      put_u16 (w, m->u.hello.version_min);
      put_u16 (w, m->u.hello.version_max);
      put_u32 (w, m->u.hello.pid);
      put_str (w, m->u.hello.client_name);
      return true;
    case VDM_MSG_HELLO_REPLY:
      if (!str_ok (m->u.hello_reply.daemon_version, VDM_PROTO_NAME_MAX)
          || (m->u.hello_reply.flags & ~VDM_HELLO_FLAGS_KNOWN))
        return false;
      put_u16 (w, m->u.hello_reply.version);
      put_u32 (w, m->u.hello_reply.flags);
      put_u32 (w, m->u.hello_reply.max_watches);
      put_u32 (w, m->u.hello_reply.max_messages_per_second);
      put_str (w, m->u.hello_reply.daemon_version);
      return true;
    case VDM_MSG_WATCH:
      if (!str_ok (m->u.watch.element, VDM_PROTO_NAME_MAX)
          || !str_ok (m->u.watch.pipeline, VDM_PROTO_NAME_MAX))
        return false;
      put_str (w, m->u.watch.element);
      put_str (w, m->u.watch.pipeline);
      return true;
    case VDM_MSG_WATCH_REPLY:
      if (!m->u.watch_reply.watch_id || !flow_ok (&m->u.watch_reply.flow))
        return false;
      put_u32 (w, m->u.watch_reply.watch_id);
      put_u64 (w, m->u.watch_reply.sock_cookie);
      put_u64 (w, m->u.watch_reply.sk_drops_at_start);
      put_flow (w, &m->u.watch_reply.flow);
      return true;
    case VDM_MSG_UNWATCH:
    case VDM_MSG_COUNTERS_REQUEST:
      if (!m->u.watch_ref.watch_id)
        return false;
      put_u32 (w, m->u.watch_ref.watch_id);
      return true;
    case VDM_MSG_COUNTERS_REPLY: {
      const vdm_msg_counters_reply *c = &m->u.counters_reply;
      if (!c->watch_id || c->n_reasons > VDM_PROTO_MAX_REASONS || c->queue_peak < -1
          || c->queue_peak > 1000)
        return false;
      put_u32 (w, c->watch_id);
      put_u64 (w, c->total);
      put_u64 (w, c->ringbuf_lost);
      put_u64 (w, c->queue_lost);
      put_u32 (w, (uint32_t) c->queue_peak);
      put_u16 (w, c->n_reasons);
      for (i = 0; i < c->n_reasons; i++) {
        if (c->reasons[i].slot >= VDM_PROTO_REASON_SLOTS)
          return false;
        put_u16 (w, c->reasons[i].slot);
        put_u64 (w, c->reasons[i].count);
      }
      return true;
    }
    case VDM_MSG_DROPS:
      if (m->u.drops.n_drops == 0 || m->u.drops.n_drops > VDM_PROTO_MAX_DROPS)
        return false;
      put_u16 (w, m->u.drops.n_drops);
      for (i = 0; i < m->u.drops.n_drops; i++) {
        if (!drop_ok (&m->u.drops.drops[i]))
          return false;
        put_drop (w, &m->u.drops.drops[i]);
      }
      return true;
    case VDM_MSG_CATCH_UP:
      if (!m->u.catch_up.watch_id || m->u.catch_up.kind != VDM_CATCH_UP_BEFORE_WATCH)
        return false;
      put_u32 (w, m->u.catch_up.watch_id);
      put_u8 (w, m->u.catch_up.kind);
      put_u64 (w, m->u.catch_up.count);
      put_u64 (w, m->u.catch_up.sk_drops_now);
      return true;
    case VDM_MSG_RESULT:
      if (!str_ok (m->u.result.text, VDM_PROTO_TEXT_MAX) || m->u.result.status > 4095)
        return false;
      put_u32 (w, m->u.result.status);
      put_str (w, m->u.result.text);
      return true;
    case VDM_MSG_ANALYTICS: {
      const vdm_msg_analytics *a = &m->u.analytics;
      if (!str_ok (a->element, VDM_PROTO_NAME_MAX) || a->n_metrics > VDM_PROTO_MAX_ANALYTICS)
        return false;
      put_u32 (w, a->watch_id);
      put_str (w, a->element);
      put_u16 (w, a->n_metrics);
      for (i = 0; i < a->n_metrics; i++) {
        uint64_t bits;
        if (!key_ok (a->metrics[i].key) || !isfinite (a->metrics[i].value))
          return false;
        memcpy (&bits, &a->metrics[i].value, 8);
        put_str (w, a->metrics[i].key);
        put_u64 (w, bits);
      }
      return true;
    }
    case VDM_MSG_STATUS_REQUEST:
      return true;
    case VDM_MSG_FILL:
      if (m->u.fill.n_fills == 0 || m->u.fill.n_fills > VDM_PROTO_MAX_FILLS)
        return false;
      put_u16 (w, m->u.fill.n_fills);
      for (i = 0; i < m->u.fill.n_fills; i++) {
        if (!m->u.fill.fills[i].watch_id || m->u.fill.fills[i].peak > 1000)
          return false;
        put_u32 (w, m->u.fill.fills[i].watch_id);
        put_u16 (w, m->u.fill.fills[i].peak);
      }
      return true;
    case VDM_MSG_STATUS_ENTRY: {
      const vdm_msg_status_entry *s = &m->u.status_entry;
      if (!str_ok (s->command, VDM_PROTO_NAME_MAX) || !str_ok (s->element, VDM_PROTO_NAME_MAX)
          || !str_ok (s->pipeline, VDM_PROTO_NAME_MAX) || (s->watch_id && !flow_ok (&s->flow)))
        return false;
      put_u32 (w, s->client_id);
      put_u32 (w, s->pid);
      put_u32 (w, s->uid);
      put_str (w, s->command);
      put_u32 (w, s->watch_id);
      put_str (w, s->element);
      put_str (w, s->pipeline);
      if (s->watch_id)
        put_flow (w, &s->flow);
      put_u64 (w, s->drops);
      put_u64 (w, s->events_lost);
      return true;
    }
  }
  return false;
}

static void
decode_counters_reply (reader *r, vdm_msg_counters_reply *c)
{
  unsigned i;

  c->watch_id = get_u32 (r, "watch id");
  c->total = get_u64 (r, "total");
  c->ringbuf_lost = get_u64 (r, "ring buffer lost");
  c->queue_lost = get_u64 (r, "queue lost");
  c->queue_peak = (int32_t) get_u32 (r, "queue peak");
  c->n_reasons = get_u16 (r, "reason count");
  if (r->error)
    return;
  if (!c->watch_id)
    fail (r, "watch id 0");
  if (c->queue_peak < -1 || c->queue_peak > 1000)
    fail (r, "queue peak outside -1..1000");
  if (c->n_reasons > VDM_PROTO_MAX_REASONS)
    fail (r, "more than 64 reasons");
  for (i = 0; !r->error && i < c->n_reasons; i++) {
    c->reasons[i].slot = get_u16 (r, "reason slot");
    c->reasons[i].count = get_u64 (r, "reason count");
    if (!r->error && c->reasons[i].slot >= VDM_PROTO_REASON_SLOTS)
      fail (r, "reason slot above 255");
  }
}

static void
decode_analytics (reader *r, vdm_msg_analytics *a)
{
  unsigned i;

  a->watch_id = get_u32 (r, "watch id");
  get_str (r, a->element, VDM_PROTO_NAME_MAX, "element name");
  a->n_metrics = get_u16 (r, "metric count");
  if (!r->error && a->n_metrics > VDM_PROTO_MAX_ANALYTICS)
    fail (r, "more than 32 metrics");
  for (i = 0; !r->error && i < a->n_metrics; i++) {
    uint64_t bits;
    get_str (r, a->metrics[i].key, VDM_PROTO_KEY_MAX, "metric key");
    bits = get_u64 (r, "metric value");
    memcpy (&a->metrics[i].value, &bits, 8);
    if (!r->error && !key_ok (a->metrics[i].key))
      fail (r, "metric key not [a-z0-9_-]+");
    if (!r->error && !isfinite (a->metrics[i].value))
      fail (r, "metric value not finite");
  }
}

static void
decode_status_entry (reader *r, vdm_msg_status_entry *s)
{
  s->client_id = get_u32 (r, "client id");
  s->pid = get_u32 (r, "pid");
  s->uid = get_u32 (r, "uid");
  get_str (r, s->command, VDM_PROTO_NAME_MAX, "command");
  s->watch_id = get_u32 (r, "watch id");
  get_str (r, s->element, VDM_PROTO_NAME_MAX, "element name");
  get_str (r, s->pipeline, VDM_PROTO_NAME_MAX, "pipeline name");
  if (s->watch_id)
    get_flow (r, &s->flow);
  s->drops = get_u64 (r, "drops");
  s->events_lost = get_u64 (r, "events lost");
}

static void
decode_fill (reader *r, vdm_msg_fill *f)
{
  unsigned i;

  f->n_fills = get_u16 (r, "fill count");
  if (!r->error && (f->n_fills == 0 || f->n_fills > VDM_PROTO_MAX_FILLS))
    fail (r, "fill count not 1..1024");
  for (i = 0; !r->error && i < f->n_fills; i++) {
    f->fills[i].watch_id = get_u32 (r, "fill watch id");
    f->fills[i].peak = get_u16 (r, "fill peak");
    if (!r->error && !f->fills[i].watch_id)
      fail (r, "fill watch id 0");
    if (!r->error && f->fills[i].peak > 1000)
      fail (r, "fill peak above 1000");
  }
}

static void
decode_body (reader *r, vdm_msg *m)
{
  unsigned i;

  switch ((vdm_msg_type) m->type) {
    case VDM_MSG_HELLO:
      m->u.hello.version_min = get_u16 (r, "version min");
      m->u.hello.version_max = get_u16 (r, "version max");
      m->u.hello.pid = get_u32 (r, "pid");
      get_str (r, m->u.hello.client_name, VDM_PROTO_NAME_MAX, "client name");
      if (!r->error && m->u.hello.version_min > m->u.hello.version_max)
        fail (r, "version min above version max");
      return;
    case VDM_MSG_HELLO_REPLY:
      m->u.hello_reply.version = get_u16 (r, "version");
      m->u.hello_reply.flags = get_u32 (r, "flags");
      m->u.hello_reply.max_watches = get_u32 (r, "max watches");
      m->u.hello_reply.max_messages_per_second = get_u32 (r, "max messages per second");
      get_str (r, m->u.hello_reply.daemon_version, VDM_PROTO_NAME_MAX, "daemon version");
      if (!r->error && (m->u.hello_reply.flags & ~VDM_HELLO_FLAGS_KNOWN))
        fail (r, "unknown hello flags");
      return;
    case VDM_MSG_WATCH:
      get_str (r, m->u.watch.element, VDM_PROTO_NAME_MAX, "element name");
      get_str (r, m->u.watch.pipeline, VDM_PROTO_NAME_MAX, "pipeline name");
      return;
    case VDM_MSG_WATCH_REPLY:
      m->u.watch_reply.watch_id = get_u32 (r, "watch id");
      m->u.watch_reply.sock_cookie = get_u64 (r, "socket cookie");
      m->u.watch_reply.sk_drops_at_start = get_u64 (r, "socket drops at start");
      get_flow (r, &m->u.watch_reply.flow);
      if (!r->error && !m->u.watch_reply.watch_id)
        fail (r, "watch id 0");
      return;
    case VDM_MSG_UNWATCH:
    case VDM_MSG_COUNTERS_REQUEST:
      m->u.watch_ref.watch_id = get_u32 (r, "watch id");
      if (!r->error && !m->u.watch_ref.watch_id)
        fail (r, "watch id 0");
      return;
    case VDM_MSG_COUNTERS_REPLY:
      decode_counters_reply (r, &m->u.counters_reply);
      return;
    case VDM_MSG_DROPS:
      m->u.drops.n_drops = get_u16 (r, "drop count");
      if (!r->error && (m->u.drops.n_drops == 0 || m->u.drops.n_drops > VDM_PROTO_MAX_DROPS))
        fail (r, "drop count not 1..32");
      for (i = 0; !r->error && i < m->u.drops.n_drops; i++)
        get_drop (r, &m->u.drops.drops[i]);
      return;
    case VDM_MSG_CATCH_UP:
      m->u.catch_up.watch_id = get_u32 (r, "watch id");
      m->u.catch_up.kind = get_u8 (r, "catch-up kind");
      m->u.catch_up.count = get_u64 (r, "catch-up count");
      m->u.catch_up.sk_drops_now = get_u64 (r, "socket drops");
      if (!r->error && (!m->u.catch_up.watch_id || m->u.catch_up.kind != VDM_CATCH_UP_BEFORE_WATCH))
        fail (r, "catch-up watch id 0 or unknown kind");
      return;
    case VDM_MSG_RESULT:
      m->u.result.status = get_u32 (r, "status");
      get_str (r, m->u.result.text, VDM_PROTO_TEXT_MAX, "result text");
      if (!r->error && m->u.result.status > 4095)
        fail (r, "status is not an errno");
      return;
    case VDM_MSG_ANALYTICS:
      decode_analytics (r, &m->u.analytics);
      return;
    case VDM_MSG_STATUS_REQUEST:
      return;
    case VDM_MSG_STATUS_ENTRY:
      decode_status_entry (r, &m->u.status_entry);
      return;
    case VDM_MSG_FILL:
      decode_fill (r, &m->u.fill);
      return;
  }
  fail (r, "unknown message type");
}

/* ---- frames ---------------------------------------------------------- */

int
vdm_proto_encode (const vdm_msg *msg, uint8_t *buf, size_t cap)
{
  writer w = { .buf = buf, .cap = cap };
  size_t payload_len;

  if (cap < VDM_PROTO_HEADER_BYTES)
    return -EMSGSIZE;
  put_u16 (&w, VDM_PROTO_MAGIC);
  put_u8 (&w, VDM_PROTO_FRAME_VERSION);
  put_u8 (&w, msg->type);
  put_u32 (&w, 0);              /* length, patched below */
  put_u32 (&w, msg->request_id);
  if (msg->type == 0 || msg->type > VDM_MSG_TYPE_MAX || !encode_body (&w, msg))
    return -EINVAL;
  if (w.full)
    return -EMSGSIZE;
  payload_len = w.len - VDM_PROTO_HEADER_BYTES;
  if (payload_len > VDM_PROTO_MAX_PAYLOAD)
    return -EMSGSIZE;
  w.len = 4;
  put_u32 (&w, (uint32_t) payload_len);
  return (int) (payload_len + VDM_PROTO_HEADER_BYTES);
}

int
vdm_proto_frame_length (const uint8_t *buf, size_t len, const char **why)
{
  reader r = { .buf = buf, .len = len };
  uint32_t payload_len;
  uint8_t version, type;

  if (len < VDM_PROTO_HEADER_BYTES)
    return 0;
  if (get_u16 (&r, "magic") != VDM_PROTO_MAGIC) {
    *why = "bad magic (not a vdropmond frame)";
    return -EBADMSG;
  }
  version = get_u8 (&r, "version");
  type = get_u8 (&r, "type");
  payload_len = get_u32 (&r, "length");
  if (version != VDM_PROTO_FRAME_VERSION) {
    *why = "unsupported frame format version";
    return -EBADMSG;
  }
  if (type == 0 || type > VDM_MSG_TYPE_MAX) {
    *why = "unknown message type";
    return -EBADMSG;
  }
  if (payload_len > VDM_PROTO_MAX_PAYLOAD) {
    *why = "payload longer than 8192 bytes";
    return -EBADMSG;
  }
  return (int) (payload_len + VDM_PROTO_HEADER_BYTES);
}

int
vdm_proto_decode (const uint8_t *buf, size_t len, vdm_msg *msg, const char **why)
{
  reader r = { .buf = buf, .len = len };
  int frame_len = vdm_proto_frame_length (buf, len, why);

  if (frame_len == 0) {
    *why = "frame shorter than its 12-byte header";
    return -EBADMSG;
  }
  if (frame_len < 0)
    return frame_len;
  if ((size_t) frame_len != len) {
    *why = "frame length does not match its header";
    return -EBADMSG;
  }
  memset (msg, 0, sizeof (*msg));
  r.pos = 3;
  msg->type = get_u8 (&r, "type");
  r.pos = 8;
  msg->request_id = get_u32 (&r, "request id");
  decode_body (&r, msg);
  if (!r.error && r.pos != r.len)
    r.error = "trailing bytes after the message";
  if (r.error) {
    *why = r.error;
    return -EBADMSG;
  }
  return 0;
}

const char *
vdm_proto_type_name (uint8_t type)
{
  static const char *const names[] = {
    [VDM_MSG_HELLO] = "hello", [VDM_MSG_HELLO_REPLY] = "hello-reply",
    [VDM_MSG_WATCH] = "watch", [VDM_MSG_WATCH_REPLY] = "watch-reply",
    [VDM_MSG_UNWATCH] = "unwatch", [VDM_MSG_COUNTERS_REQUEST] = "counters-request",
    [VDM_MSG_COUNTERS_REPLY] = "counters-reply", [VDM_MSG_DROPS] = "drops",
    [VDM_MSG_CATCH_UP] = "catch-up", [VDM_MSG_RESULT] = "result",
    [VDM_MSG_ANALYTICS] = "analytics", [VDM_MSG_STATUS_REQUEST] = "status-request",
    [VDM_MSG_STATUS_ENTRY] = "status-entry", [VDM_MSG_FILL] = "fill",
  };
  return type && type <= VDM_MSG_TYPE_MAX ? names[type] : "unknown";
}

bool
vdm_proto_type_from_client (uint8_t type)
{
  switch (type) {
    case VDM_MSG_HELLO:
    case VDM_MSG_WATCH:
    case VDM_MSG_UNWATCH:
    case VDM_MSG_COUNTERS_REQUEST:
    case VDM_MSG_ANALYTICS:
    case VDM_MSG_STATUS_REQUEST:
      return true;
    default:
      return false;
  }
}
