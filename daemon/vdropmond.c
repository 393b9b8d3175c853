/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmond — the host's vdropmon collector daemon (docs/daemon.md).
 * Parses the command line, gets its listening socket (systemd socket
 * activation, or binds --socket), opens the embedded collector once and
 * runs the server. `vdropmond --status` is the small client that prints
 * what a running daemon serves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "collector.h"
#include "event_source.h"
#include "metrics.h"
#include "metrics_daemon.h"
#include "server.h"
#include "status.h"
#include "wire.h"

#define DEFAULT_SOCKET "/run/vdropmon/vdropmond.sock"
#define SD_LISTEN_FDS_START 3
/* Sockets the whole daemon watches at once: the BPF maps are sized for
 * them at start (about 6 KiB of kernel memory each on 2 CPUs, see
 * docs/daemon.md), so the default covers a host of ~1,200 streams with room. */
#define DEFAULT_MAX_SOCKETS 4096

typedef struct {
  const char *socket_path;
  mode_t socket_mode;
  const char *socket_group;
  bool status;
  const char *metrics_listen;   /* --metrics-listen, NULL: no metrics */
  unsigned metrics_stale_after_s;  /* --metrics-stale-after */
  unsigned max_sockets;         /* --max-sockets: the collector's watch table */
  vdm_server_config server;
} options;

static void
usage (FILE *out)
{
  fprintf (out,
      "usage: vdropmond [--socket PATH] [--socket-mode MODE] [--socket-group GROUP]\n"
      "                 [--max-clients N] [--max-watches N] [--max-rate N] [--max-sockets N]\n"
      "                 [--metrics-listen HOST:PORT] [--metrics-stale-after SECONDS]\n"
      "       vdropmond --status [--socket PATH]\n"
      "Serves vdropmon's kernel drop events to unprivileged pipelines (docs/daemon.md).\n"
      "Default socket: %s (or $VDROPMON_DAEMON_SOCKET).\n"
      "--metrics-listen serves Prometheus metrics on http://HOST:PORT/metrics (docs/fleet.md;\n"
      "suggested port 9945); off by default. A stream's series leave it --metrics-stale-after\n"
      "seconds (default 120) after its last report.\n", DEFAULT_SOCKET);
}

static bool
parse_unsigned (const char *text, unsigned base, unsigned *out)
{
  char *end;
  unsigned long v;

  errno = 0;
  v = strtoul (text, &end, (int) base);
  if (errno || *end || end == text || v == 0 || v > 1000000)
    return false;
  *out = (unsigned) v;
  return true;
}

static int
parse_options (int argc, char **argv, options *o)
{
  static const struct option long_options[] = {
    { "socket", required_argument, NULL, 's' },
    { "socket-mode", required_argument, NULL, 'm' },
    { "socket-group", required_argument, NULL, 'g' },
    { "max-clients", required_argument, NULL, 'c' },
    { "max-watches", required_argument, NULL, 'w' },
    { "max-rate", required_argument, NULL, 'r' },
    { "max-sockets", required_argument, NULL, 'k' },
    { "status", no_argument, NULL, 'S' },
    { "metrics-listen", required_argument, NULL, 'M' },
    { "metrics-stale-after", required_argument, NULL, 'A' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  unsigned mode = 0660;
  int opt;

  o->socket_path = getenv ("VDROPMON_DAEMON_SOCKET");
  if (!o->socket_path || !*o->socket_path)
    o->socket_path = DEFAULT_SOCKET;
  o->server.max_clients = VDM_SERVER_DEFAULT_MAX_CLIENTS;
  o->server.max_watches = VDM_SERVER_DEFAULT_MAX_WATCHES;
  o->server.max_rate = VDM_SERVER_DEFAULT_MAX_RATE;
  o->max_sockets = DEFAULT_MAX_SOCKETS;
  o->metrics_stale_after_s = VDM_METRICS_DEFAULT_STALE_AFTER_NS / 1000000000ull;
  while ((opt = getopt_long (argc, argv, "h", long_options, NULL)) != -1) {
    bool ok = true;
    switch (opt) {
      case 's': o->socket_path = optarg; break;
      case 'm': ok = parse_unsigned (optarg, 8, &mode) && mode <= 0777; break;
      case 'g': o->socket_group = optarg; break;
      case 'c': ok = parse_unsigned (optarg, 10, &o->server.max_clients); break;
      case 'w': ok = parse_unsigned (optarg, 10, &o->server.max_watches); break;
      case 'r': ok = parse_unsigned (optarg, 10, &o->server.max_rate); break;
      case 'k':
        ok = parse_unsigned (optarg, 10, &o->max_sockets) && o->max_sockets < VDM_WATCH_SLOTS_MAX;
        break;
      case 'S': o->status = true; break;
      case 'M': o->metrics_listen = optarg; break;
      case 'A':
        ok = parse_unsigned (optarg, 10, &o->metrics_stale_after_s) && o->metrics_stale_after_s <= 86400;
        break;
      case 'h': usage (stdout); exit (0);
      default: usage (stderr); return -1;
    }
    if (!ok) {
      const struct option *lo = long_options;
      while (lo->name && lo->val != opt)
        lo++;
      fprintf (stderr, "vdropmond: bad value for --%s: %s\n", lo->name ? lo->name : "?", optarg);
      return -1;
    }
  }
  if (optind != argc) {
    usage (stderr);
    return -1;
  }
  o->socket_mode = (mode_t) mode;
  return 0;
}

/* systemd socket activation (sd_listen_fds(3), by hand): LISTEN_PID is us
 * and LISTEN_FDS is 1, the fd being 3. Returns the fd, or -1 when not
 * activated. */
static int
activated_socket (void)
{
  const char *pid = getenv ("LISTEN_PID"), *fds = getenv ("LISTEN_FDS");
  int type = 0;
  socklen_t len = sizeof (type);

  if (!pid || !fds || atol (pid) != (long) getpid ())
    return -1;
  unsetenv ("LISTEN_PID");
  unsetenv ("LISTEN_FDS");
  unsetenv ("LISTEN_FDNAMES");
  if (atoi (fds) != 1) {
    fprintf (stderr, "vdropmond: LISTEN_FDS=%s: expected exactly one socket\n", fds);
    return -2;
  }
  if (getsockopt (SD_LISTEN_FDS_START, SOL_SOCKET, SO_TYPE, &type, &len) < 0
      || type != SOCK_SEQPACKET) {
    fprintf (stderr, "vdropmond: the socket systemd passed is not SOCK_SEQPACKET "
        "(ListenSequentialPacket= in vdropmond.socket)\n");
    return -2;
  }
  /* systemd passes it blocking; the loop accepts until EAGAIN */
  fcntl (SD_LISTEN_FDS_START, F_SETFL, fcntl (SD_LISTEN_FDS_START, F_GETFL) | O_NONBLOCK);
  fcntl (SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
  return SD_LISTEN_FDS_START;
}

/* A socket file left by a dead daemon is removed; a live daemon's is not. */
static int
clear_stale_socket (const char *path)
{
  int probe = vdm_wire_connect (path, 0);

  if (probe >= 0) {
    close (probe);
    fprintf (stderr, "vdropmond: another daemon already answers on %s\n", path);
    return -EADDRINUSE;
  }
  if (probe == -ECONNREFUSED)
    unlink (path);
  return 0;
}

static int
make_parent_dir (const char *path)
{
  char *copy = strdup (path);
  int err = 0;

  if (!copy)
    return -ENOMEM;
  if (mkdir (dirname (copy), 0755) < 0 && errno != EEXIST)
    err = -errno;
  free (copy);
  return err;
}

static int
set_owner_and_mode (const options *o)
{
  if (o->socket_group) {
    struct group *g = getgrnam (o->socket_group);
    if (!g) {
      fprintf (stderr, "vdropmond: no group %s\n", o->socket_group);
      return -ENOENT;
    }
    if (chown (o->socket_path, (uid_t) -1, g->gr_gid) < 0)
      return -errno;
  }
  return chmod (o->socket_path, o->socket_mode) < 0 ? -errno : 0;
}

static int
bind_socket (const options *o)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd, err;

  if (strlen (o->socket_path) >= sizeof (addr.sun_path)) {
    fprintf (stderr, "vdropmond: socket path too long: %s\n", o->socket_path);
    return -1;
  }
  strcpy (addr.sun_path, o->socket_path);
  if (make_parent_dir (o->socket_path) < 0 || clear_stale_socket (o->socket_path) < 0)
    return -1;
  fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof (addr)) < 0
      || (err = set_owner_and_mode (o)) < 0 || listen (fd, 128) < 0) {
    fprintf (stderr, "vdropmond: cannot listen on %s: %s\n", o->socket_path, strerror (errno));
    if (fd >= 0)
      close (fd);
    return -1;
  }
  return fd;
}

/* /metrics (docs/fleet.md): the server's hooks feed it. */
static vdm_daemon_metrics *
start_metrics (options *o, vdm_source *source)
{
  char error[256];
  vdm_daemon_metrics *metrics = vdm_daemon_metrics_start (o->metrics_listen, source,
      VDM_DAEMON_VERSION, (uint64_t) o->metrics_stale_after_s * 1000000000ull, error,
      sizeof (error));

  if (!metrics) {
    fprintf (stderr, "vdropmond: %s\n", error);
    return NULL;
  }
  o->server.hook_data = metrics;
  o->server.on_analytics = vdm_daemon_metrics_on_analytics;
  o->server.on_watch = vdm_daemon_metrics_on_watch;
  o->server.on_clients = vdm_daemon_metrics_on_clients;
  fprintf (stderr, "vdropmond: metrics on http://%.*s:%u/metrics\n",
      (int) (strrchr (o->metrics_listen, ':') - o->metrics_listen), o->metrics_listen,
      vdm_daemon_metrics_port (metrics));
  return metrics;
}

static int
serve (options *o)
{
  vdm_source *source;
  vdm_server *server;
  vdm_daemon_metrics *metrics = NULL;
  char *error = NULL;
  bool activated;
  int fd, err;

  fd = activated_socket ();
  activated = fd >= 0;
  if (fd == -2)
    return 1;
  /* The program first, the socket after: a client that connects is served
   * at once (a restarted daemon is not answering while it loads). */
  vdm_embedded_set_capacity (o->max_sockets);
  source = vdm_source_open_embedded (&error);
  if (!source) {
    fprintf (stderr, "vdropmond: cannot load the BPF collector: %s\n", error ? error : "?");
    free (error);
    if (activated)
      close (fd);
    return 1;
  }
  if (o->metrics_listen && !(metrics = start_metrics (o, source))) {
    vdm_source_unref (source);
    return 1;
  }
  if (!activated && (fd = bind_socket (o)) < 0) {
    vdm_daemon_metrics_stop (metrics);
    vdm_source_unref (source);
    return 1;
  }
  server = vdm_server_new (&o->server, source, fd, &error);
  if (!server) {
    fprintf (stderr, "vdropmond: %s\n", error ? error : "?");
    free (error);
    vdm_daemon_metrics_stop (metrics);
    vdm_source_unref (source);
    return 1;
  }
  fprintf (stderr, "vdropmond: serving on %s (max %u clients, %u watches each, %u sockets in "
      "all, %u messages/s)\n", activated ? "the socket systemd passed" : o->socket_path,
      o->server.max_clients, o->server.max_watches, o->max_sockets, o->server.max_rate);
  err = vdm_server_run (server);
  vdm_server_free (server);
  vdm_daemon_metrics_stop (metrics);
  vdm_source_unref (source);
  close (fd);
  if (!activated)
    unlink (o->socket_path);
  return err < 0 ? 1 : 0;
}

int
main (int argc, char **argv)
{
  options o = { 0 };

  if (parse_options (argc, argv, &o) < 0)
    return 2;
  if (o.status)
    return vdm_status_print (o.socket_path, stdout);
  return serve (&o);
}
