/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench_pipes — real receiving pipelines for the flood and host parts:
 * `udpsrc address=127.0.0.1 port=0 ! X ! fakesink`, their socket, what their
 * vdropmon posted, and paced or flat-out loopback senders to them.
 */
#ifndef VDM_BENCH_PIPES_H
#define VDM_BENCH_PIPES_H

#include <gst/gst.h>
#include <netinet/in.h>

typedef struct
{
  GstElement *pipeline, *udpsrc, *element;
  int fd;                       /* udpsrc's socket (owned by udpsrc) */
  struct sockaddr_in addr;
  /* Counted in the bus sync handler (any thread). */
  gint64 kernel_drop_count;     /* sum of `count` of kernel-* vdropmon-drop messages */
  gint64 drop_messages;
  gint64 message_events_lost;   /* sum of their `events-lost` */
} BenchPipe;

/* "identity silent=true", "vdropmon" (...): the element between udpsrc and
 * fakesink. buffer_size 0: udpsrc's default. FALSE if it does not start. */
gboolean bench_pipe_start (BenchPipe * pipe, const gchar * element_desc, gint buffer_size);
void bench_pipe_stop (BenchPipe * pipe);
/* A uint64 field of vdropmon's `stats` property (0 without vdropmon). */
guint64 bench_pipe_stat (BenchPipe * pipe, const gchar * field);

typedef struct _BenchSenders BenchSenders;

/* n_threads threads send packet_size-byte RTP packets round-robin to the
 * n_dst addresses: flat out (rate 0), or `rate` packets/s per destination,
 * until duration_ns is over or bench_senders_stop(). */
BenchSenders *bench_senders_start (const struct sockaddr_in *dst, guint n_dst, guint n_threads,
    gsize packet_size, guint rate, guint64 duration_ns);
/* CPU time the sender threads used so far (ns). */
guint64 bench_senders_cpu_ns (BenchSenders * senders);
guint64 bench_senders_sent (BenchSenders * senders);
/* Stops, joins, frees; returns packets sent. */
guint64 bench_senders_stop (BenchSenders * senders);

#endif
