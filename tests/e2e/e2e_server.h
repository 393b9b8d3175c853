/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * e2e_server.h — one of the project's test servers (tests/servers/:
 * vdm-rtsp-server, vdm-flv-server) as a child process of the test, on
 * loopback or inside a network namespace the test created.
 *
 * The server is bounded three times over: its own --duration-s, a
 * parent-death signal (it dies with the test, even when the watchdog ends
 * the test with _exit), and vdm_e2e_server_stop().
 */
#ifndef VDM_E2E_SERVER_H
#define VDM_E2E_SERVER_H

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  gchar *label;
  GSubprocess *process;
  gchar *stdout_path;           /* where its READY lines go */
  GPtrArray *urls;              /* gchar*: the READY lines' URLs, in order */
  gboolean frozen;
} VdmE2eServer;

/* Starts argv (NULL-terminated) as a child that dies with the test, its
 * stdout into stdout_path (NULL: inherited). */
GSubprocess *vdm_e2e_spawn (const gchar * label, const gchar * const *argv,
    const gchar * stdout_path);

/* Starts the server in env VDM_RTSP_SERVER or VDM_FLV_SERVER (env_binary)
 * with the given options (NULL-terminated), inside network namespace
 * netns unless it is NULL, and returns once it printed n_ready READY
 * lines (fatal after 10 s or if it exits). Always adds --duration-s. */
VdmE2eServer *vdm_e2e_server_start (const gchar * label, const gchar * env_binary,
    const gchar * netns, guint n_ready, const gchar * first_option, ...) G_GNUC_NULL_TERMINATED;

const gchar *vdm_e2e_server_url (VdmE2eServer * server, guint index);

/* SIGSTOP: the server stops producing at once; what its sockets already
 * hold still goes out (the kernel keeps sending TCP data). */
void vdm_e2e_server_freeze (VdmE2eServer * server);

/* SIGCONT: lets it run again (before the receiver stops: rtspsrc waits
 * for the answer to its TEARDOWN). */
void vdm_e2e_server_thaw (VdmE2eServer * server);

/* SIGKILL, and waits for it: the server's process is gone at once, its
 * sockets closed by the kernel, nothing said to its clients first. Stop it
 * afterwards all the same (it frees). */
void vdm_e2e_server_kill (VdmE2eServer * server);

/* SIGCONT then SIGTERM, waits for it (SIGKILL after 5 s), and frees. */
void vdm_e2e_server_stop (VdmE2eServer * server);

G_END_DECLS
#endif
