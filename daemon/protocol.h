/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * protocol.h — the vdropmond wire protocol (docs/daemon.md): encode and
 * decode of every frame exchanged between the daemon and its clients.
 *
 * Pure C, no I/O: a frame is a byte buffer. Every frame is
 *
 *   magic u16 | version u8 | type u8 | payload_len u32 | request_id u32 | payload
 *
 * little-endian, 12-byte header, payload at most VDM_PROTO_MAX_PAYLOAD.
 * The decoder checks every length and every field against its limit and
 * rejects trailing bytes, so a frame either decodes to exactly one valid
 * message or is refused with a sentence saying why (the daemon then
 * disconnects that client). The socket fd of a WATCH travels beside the
 * frame (SCM_RIGHTS), never in it.
 */
#ifndef VDM_DAEMON_PROTOCOL_H
#define VDM_DAEMON_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VDM_PROTO_MAGIC 0x4d56            /* "VM" on the wire */
/* The header's version byte is the frame format: 1 in every protocol
 * version so far, so that any daemon can read any client's HELLO. The
 * protocol version (which messages a session may carry) is what HELLO
 * negotiates: the highest both sides speak. */
#define VDM_PROTO_FRAME_VERSION 1
#define VDM_PROTO_VERSION_MIN 1
#define VDM_PROTO_VERSION_MAX 2           /* 2: FILL and pushed COUNTERS_REPLY */
#define VDM_PROTO_HEADER_BYTES 12
#define VDM_PROTO_MAX_PAYLOAD 8192
#define VDM_PROTO_MAX_FRAME (VDM_PROTO_HEADER_BYTES + VDM_PROTO_MAX_PAYLOAD)

#define VDM_PROTO_NAME_MAX 64             /* element, pipeline, client and command names */
#define VDM_PROTO_REASON_NAME_MAX 48
#define VDM_PROTO_TEXT_MAX 256            /* error and status sentences */
#define VDM_PROTO_KEY_MAX 32              /* analytics keys */
#define VDM_PROTO_PAYLOAD_BYTES 64        /* captured L4 payload of one drop */
#define VDM_PROTO_MAX_DROPS 32            /* drop records per DROPS frame */
#define VDM_PROTO_MAX_REASONS 64          /* non-zero reason slots per COUNTERS_REPLY */
#define VDM_PROTO_MAX_ANALYTICS 32        /* key/value pairs per ANALYTICS frame */
#define VDM_PROTO_REASON_SLOTS 256        /* = VDM_REASON_SLOTS */
#define VDM_PROTO_MAX_FILLS 1024          /* watches per FILL frame */

typedef enum {
  VDM_MSG_HELLO = 1,            /* client → daemon, first frame */
  VDM_MSG_HELLO_REPLY = 2,      /* daemon → client */
  VDM_MSG_WATCH = 3,            /* client → daemon, one socket fd attached */
  VDM_MSG_WATCH_REPLY = 4,      /* daemon → client */
  VDM_MSG_UNWATCH = 5,          /* client → daemon, answered by RESULT */
  VDM_MSG_COUNTERS_REQUEST = 6, /* client → daemon */
  VDM_MSG_COUNTERS_REPLY = 7,   /* daemon → client */
  VDM_MSG_DROPS = 8,            /* daemon → client, pushed, request_id 0 */
  VDM_MSG_CATCH_UP = 9,         /* daemon → client, pushed after a WATCH_REPLY */
  VDM_MSG_RESULT = 10,          /* daemon → client: success or error of a request */
  VDM_MSG_ANALYTICS = 11,       /* client → daemon, no reply (issue 11 metrics) */
  VDM_MSG_STATUS_REQUEST = 12,  /* any client → daemon */
  VDM_MSG_STATUS_ENTRY = 13,    /* daemon → client, one per watch, then RESULT 0 */
  VDM_MSG_FILL = 14,            /* daemon → client, pushed (version 2): queue fill that changed */
} vdm_msg_type;

#define VDM_MSG_TYPE_MAX VDM_MSG_FILL

/* Same numbering as enum vdm_attribution, plus the daemon's own. */
typedef enum {
  VDM_PROTO_ATTR_SOCKET = 1,
  VDM_PROTO_ATTR_FLOW = 2,
  VDM_PROTO_ATTR_CATCH_UP = 3,  /* counted by the socket (SK_MEMINFO_DROPS), no event */
} vdm_proto_attribution;

typedef enum {
  VDM_CATCH_UP_BEFORE_WATCH = 1, /* drops the socket counted before this watch began */
} vdm_catch_up_kind;

/* A flow as in struct vdm_flow_key, plus the network namespace. */
typedef struct {
  uint8_t family;               /* AF_INET or AF_INET6 */
  uint8_t protocol;             /* IPPROTO_UDP or IPPROTO_TCP */
  uint16_t local_port;
  uint16_t remote_port;
  uint8_t local_addr[16];
  uint8_t remote_addr[16];
  uint64_t netns_cookie;        /* SO_NETNS_COOKIE, 0 when unknown */
} vdm_proto_flow;

typedef struct {
  uint16_t version_min, version_max;
  uint32_t pid;                 /* informational; the daemon trusts SO_PEERCRED */
  char client_name[VDM_PROTO_NAME_MAX + 1];
} vdm_msg_hello;

typedef struct {
  uint16_t version;
  uint32_t flags;               /* VDM_HELLO_* */
  uint32_t max_watches;         /* per client */
  uint32_t max_messages_per_second;
  char daemon_version[VDM_PROTO_NAME_MAX + 1];
} vdm_msg_hello_reply;

#define VDM_HELLO_HAS_RX_SK 0x1
#define VDM_HELLO_HAS_QUEUE_FILL 0x2
#define VDM_HELLO_FLAGS_KNOWN 0x3

typedef struct {
  char element[VDM_PROTO_NAME_MAX + 1];
  char pipeline[VDM_PROTO_NAME_MAX + 1];
} vdm_msg_watch;

typedef struct {
  uint32_t watch_id;
  uint64_t sock_cookie;
  uint64_t sk_drops_at_start;   /* SK_MEMINFO_DROPS of the socket when the watch began */
  vdm_proto_flow flow;
} vdm_msg_watch_reply;

typedef struct {
  uint32_t watch_id;
} vdm_msg_watch_ref;            /* UNWATCH, COUNTERS_REQUEST */

typedef struct {
  uint16_t slot;
  uint64_t count;
} vdm_proto_reason_count;

typedef struct {
  uint32_t watch_id;
  uint64_t total;
  uint64_t ringbuf_lost;        /* lost in the kernel's ring buffer */
  uint64_t queue_lost;          /* lost in this client's daemon-side output queue */
  int32_t queue_peak;           /* per-mille since the last request, -1 unknown */
  uint16_t n_reasons;
  vdm_proto_reason_count reasons[VDM_PROTO_MAX_REASONS];
} vdm_msg_counters_reply;

typedef struct {
  uint64_t ktime_ns;
  uint64_t sock_cookie;
  uint32_t reason;
  uint32_t watch_id;
  uint32_t skb_len;
  uint8_t attribution;          /* vdm_proto_attribution */
  vdm_proto_flow flow;
  char reason_name[VDM_PROTO_REASON_NAME_MAX + 1];
  uint8_t payload_len;
  uint8_t payload[VDM_PROTO_PAYLOAD_BYTES];
} vdm_proto_drop;

typedef struct {
  uint16_t n_drops;
  vdm_proto_drop drops[VDM_PROTO_MAX_DROPS];
} vdm_msg_drops;

typedef struct {
  uint32_t watch_id;
  uint8_t kind;                 /* vdm_catch_up_kind */
  uint64_t count;               /* packets */
  uint64_t sk_drops_now;        /* the socket's counter when this was measured */
} vdm_msg_catch_up;

/* Version 2: the receive-queue peak of one watch over the daemon's last
 * sampling period, sent only when it differs from the last one sent. */
typedef struct {
  uint32_t watch_id;
  uint16_t peak;                /* per mille, 0..1000 */
} vdm_proto_fill;

typedef struct {
  uint16_t n_fills;             /* 1..VDM_PROTO_MAX_FILLS */
  vdm_proto_fill fills[VDM_PROTO_MAX_FILLS];
} vdm_msg_fill;

typedef struct {
  uint32_t status;              /* 0 = success, else a positive errno */
  char text[VDM_PROTO_TEXT_MAX + 1];
} vdm_msg_result;

typedef struct {
  char key[VDM_PROTO_KEY_MAX + 1];  /* [a-z0-9_-]+ */
  double value;                     /* finite */
} vdm_proto_metric;

typedef struct {
  uint32_t watch_id;            /* 0: the element as a whole */
  char element[VDM_PROTO_NAME_MAX + 1];
  uint16_t n_metrics;
  vdm_proto_metric metrics[VDM_PROTO_MAX_ANALYTICS];
} vdm_msg_analytics;

typedef struct {
  uint32_t client_id;
  uint32_t pid, uid;
  char command[VDM_PROTO_NAME_MAX + 1];
  uint32_t watch_id;            /* 0: the client has no watch */
  char element[VDM_PROTO_NAME_MAX + 1];
  char pipeline[VDM_PROTO_NAME_MAX + 1];
  vdm_proto_flow flow;
  uint64_t drops;
  uint64_t events_lost;         /* ring buffer + this client's queue */
} vdm_msg_status_entry;

typedef struct {
  uint8_t type;                 /* vdm_msg_type */
  uint32_t request_id;          /* echoed in the reply; 0 for pushed frames */
  union {
    vdm_msg_hello hello;
    vdm_msg_hello_reply hello_reply;
    vdm_msg_watch watch;
    vdm_msg_watch_reply watch_reply;
    vdm_msg_watch_ref watch_ref;
    vdm_msg_counters_reply counters_reply;
    vdm_msg_drops drops;
    vdm_msg_catch_up catch_up;
    vdm_msg_result result;
    vdm_msg_analytics analytics;
    vdm_msg_status_entry status_entry;
    vdm_msg_fill fill;
  } u;
} vdm_msg;

/* Encodes msg into buf. Returns the frame length, or -EMSGSIZE when it does
 * not fit in cap, or -EINVAL when a field is outside its limits (the
 * encoder refuses what the decoder would refuse). */
int vdm_proto_encode (const vdm_msg *msg, uint8_t *buf, size_t cap);

/* Reads a header: returns the whole frame length (header + payload) when
 * the header is valid, 0 when len < VDM_PROTO_HEADER_BYTES (need more),
 * or -EBADMSG with *why set (static text). */
int vdm_proto_frame_length (const uint8_t *buf, size_t len, const char **why);

/* Decodes exactly one frame of exactly len bytes. Returns 0, or -EBADMSG
 * with *why set to a static sentence naming the bad field. */
int vdm_proto_decode (const uint8_t *buf, size_t len, vdm_msg *msg, const char **why);

const char *vdm_proto_type_name (uint8_t type);

/* Whether a message of this type may come from a client / from the daemon. */
bool vdm_proto_type_from_client (uint8_t type);

#endif
