/* server_common — what vdm-rtsp-server and vdm-flv-server share: the
 * options of the synthetic video and of the listening socket, the
 * videotestsrc ! x264enc part of their launch lines, and how they stop
 * (SIGINT/SIGTERM or --duration-s).
 *
 * Messages are prefixed with g_get_prgname (); call g_set_prgname ()
 * first so they name the server also when run under another name.
 */
#ifndef VDM_SERVER_COMMON_H
#define VDM_SERVER_COMMON_H

#include <gst/gst.h>

#define VDM_SERVER_EXIT_RUNTIME 1
#define VDM_SERVER_EXIT_USAGE 2

typedef struct
{
  gint port;
  gchar *address;               /* default 127.0.0.1 */
  gint width;
  gint height;
  gint fps;
  gint bitrate_kbps;
  gint key_int;
  gchar *pattern;               /* videotestsrc pattern nick, default ball */
  gint duration_s;              /* 0 = until SIGINT/SIGTERM */
} VdmServerOptions;

void vdm_server_options_init (VdmServerOptions * opts, gint default_port);
void vdm_server_options_clear (VdmServerOptions * opts);

/* Parses the common options plus the server's own `extra` entries (and
 * GStreamer's), then fills in the default address and pattern.  Prints
 * why and returns FALSE on a bad command line. */
gboolean vdm_server_parse_options (VdmServerOptions * opts,
    const GOptionEntry * extra, const gchar * summary, int *argc,
    char ***argv);

gboolean vdm_server_check_range (const gchar * name, gint value, gint min,
    gint max);
/* Range checks of the common options and a known --pattern. */
gboolean vdm_server_options_valid (const VdmServerOptions * opts);

/* "videotestsrc ... ! x264enc ... " (ends with a space), with `label`
 * burnt into the picture when timeoverlay is available. */
gchar *vdm_server_encoder_launch (const VdmServerOptions * opts,
    const gchar * label);
void vdm_server_warn_if_no_timeoverlay (void);

/* Quits `loop` on SIGINT, SIGTERM and after duration_s (if > 0). */
void vdm_server_quit_on_signals (GMainLoop * loop,
    const VdmServerOptions * opts);

/* The address as a URL host: IPv6 literals in brackets. */
gchar *vdm_server_url_host (const gchar * address);

#endif /* VDM_SERVER_COMMON_H */
