/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpold: keeps the egress policies of cgroups in the kernel and answers
 * netpolctl. Startup: configuration, data plane (adopted from the pins if
 * they exist, so a restart never opens a window), restore of the saved
 * state, the control socket, and only then READY=1.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cleanup-util.h"
#include "config.h"
#include "ctl-auth.h"
#include "ctl-methods.h"
#include "ctl-server.h"
#include "log.h"
#include "manager.h"
#include "source.h"
#include "netpol-proto.h"

/* What the event loop serves: the manager, and the control socket with
 * the manager's methods. */
struct daemon {
	struct manager *m;
	struct ctl_server *server;
	/* The socket file, for the configuration's socket keys on reload;
	 * owned: netpold made it (else systemd passed it). */
	char socket_path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	bool socket_owned;
	bool pin_dir_given, attach_cgroup_given;
};

/* The server goes first: a write under way finishes through the manager. */
static void daemon_done(struct daemon *d)
{
	if (d->m) {
		d->m->publish = NULL;
		d->m->answered = NULL;
	}
	d->server = ctl_server_free(d->server);
	d->m = manager_free(d->m);
}

struct args {
	const char *socket_path;
	const char *state_dir;
	const char *pin_dir;
	const char *cgroup_root;
	const char *attach_cgroup;
	const char *config_path;
	bool config_given;
	bool foreground;
	bool teardown, forget;
	int log_level;
	int log_target;
};

static void help(void)
{
	printf("Usage: netpold [OPTIONS]\n"
	       "\n"
	       "The netpol daemon: per-cgroup egress policies with cgroup BPF.\n"
	       "\n"
	       "  --socket PATH         control socket (default " NP_SOCKET_PATH_DEFAULT ");\n"
	       "                        a socket passed by systemd takes precedence\n"
	       "  --state-dir DIR       saved policies and bindings (default " NP_STATE_DIR_DEFAULT ")\n"
	       "  --bpffs DIR           BPF pin directory (default: pin_dir of the\n"
	       "                        configuration, else " NP_PIN_DIR_DEFAULT ")\n"
	       "  --cgroup-root DIR     what 'cgroup:/path' targets are relative to\n"
	       "                        (default: the cgroup2 mount)\n"
	       "  --attach-cgroup DIR   where the programs attach; policies apply below it\n"
	       "                        (default: attach_cgroup of the configuration,\n"
	       "                        else the cgroup2 mount)\n"
	       "  --config FILE         configuration (default " NP_CONFIG_PATH_DEFAULT ")\n"
	       "  --foreground          log to stderr\n"
	       "  --log-level LEVEL     err, warning, notice, info (default), debug\n"
	       "  --log-target TARGET   auto (default), journal, stderr\n"
	       "  --teardown            do not run: detach netpol's programs and remove the\n"
	       "                        pins in the pin directory (netpold must be stopped;\n"
	       "                        a running one: netpolctl teardown). No policy is\n"
	       "                        enforced afterwards until netpold starts again\n"
	       "  --forget              with --teardown: also remove the saved bindings\n"
	       "                        and the gates (drop-ins) of bound services\n"
	       "  -h --help             show this help\n"
	       "     --version          show the version\n");
}

enum {
	ARG_SOCKET = 0x100,
	ARG_STATE_DIR,
	ARG_BPFFS,
	ARG_CGROUP_ROOT,
	ARG_ATTACH_CGROUP,
	ARG_CONFIG,
	ARG_FOREGROUND,
	ARG_LOG_LEVEL,
	ARG_LOG_TARGET,
	ARG_TEARDOWN,
	ARG_FORGET,
	ARG_VERSION,
};

/* Relative paths would depend on where netpold was started from. */
static int check_paths(const struct args *a)
{
	const char *const paths[] = {a->socket_path, a->state_dir, a->pin_dir, a->cgroup_root,
				     a->attach_cgroup};

	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		if (paths[i] && paths[i][0] != '/')
			return log_error_errno(-EINVAL, "'%s' is not an absolute path.", paths[i]);
	return 1;
}

/* 1: run; 0: exit successfully (help, version); <0: usage error, logged. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option options[] = {
	    {"socket", required_argument, NULL, ARG_SOCKET},
	    {"state-dir", required_argument, NULL, ARG_STATE_DIR},
	    {"bpffs", required_argument, NULL, ARG_BPFFS},
	    {"cgroup-root", required_argument, NULL, ARG_CGROUP_ROOT},
	    {"attach-cgroup", required_argument, NULL, ARG_ATTACH_CGROUP},
	    {"config", required_argument, NULL, ARG_CONFIG},
	    {"foreground", no_argument, NULL, ARG_FOREGROUND},
	    {"log-level", required_argument, NULL, ARG_LOG_LEVEL},
	    {"log-target", required_argument, NULL, ARG_LOG_TARGET},
	    {"teardown", no_argument, NULL, ARG_TEARDOWN},
	    {"forget", no_argument, NULL, ARG_FORGET},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, ARG_VERSION},
	    {},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case ARG_SOCKET:
			a->socket_path = optarg;
			break;
		case ARG_STATE_DIR:
			a->state_dir = optarg;
			break;
		case ARG_BPFFS:
			a->pin_dir = optarg;
			break;
		case ARG_CGROUP_ROOT:
			a->cgroup_root = optarg;
			break;
		case ARG_ATTACH_CGROUP:
			a->attach_cgroup = optarg;
			break;
		case ARG_CONFIG:
			a->config_path = optarg;
			a->config_given = true;
			break;
		case ARG_FOREGROUND:
			a->foreground = true;
			break;
		case ARG_LOG_LEVEL:
			a->log_level = log_level_from_string(optarg);
			if (a->log_level < 0)
				return log_error_errno(-EINVAL, "Unknown log level '%s'.", optarg);
			break;
		case ARG_LOG_TARGET:
			a->log_target = log_target_from_string(optarg);
			if (a->log_target < 0)
				return log_error_errno(
				    -EINVAL, "Unknown log target '%s' (auto, journal, stderr).", optarg);
			break;
		case ARG_TEARDOWN:
			a->teardown = true;
			break;
		case ARG_FORGET:
			a->forget = true;
			break;
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("netpold %s (protocol %d)\n", NETPOL_VERSION, NP_PROTO_VERSION);
			return 0;
		default:
			return -EINVAL; /* getopt printed why */
		}
	}
	if (optind < argc)
		return log_error_errno(-EINVAL, "Unexpected argument '%s'.", argv[optind]);
	if (a->forget && !a->teardown)
		return log_error_errno(-EINVAL, "--forget goes with --teardown only.");
	return check_paths(a);
}

/* The socket systemd passed, if any: exactly one listening stream socket. */
static int listen_fd_from_systemd(int *ret)
{
	int n = sd_listen_fds(1);

	if (n < 0)
		return log_error_errno(n, "Failed to read the sockets passed by systemd: %m");
	if (n == 0)
		return 0;
	if (n > 1)
		return log_error_errno(-EINVAL, "systemd passed %d sockets; netpold takes one.", n);
	if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0)
		return log_error_errno(-EINVAL,
				       "The socket systemd passed is not a listening Unix stream socket.");
	*ret = SD_LISTEN_FDS_START;
	return 1;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	log_info("Received %s, exiting; enforcement continues through the pinned programs.",
		 strsignal((int)si->ssi_signo));
	(void)sd_notify(0, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* pin_dir and attach_cgroup name the data plane netpold opened: a
 * change needs a start (and a teardown of the old one, which stays). */
static void warn_start_only(const struct daemon *d, const struct np_config *old, const struct np_config *c)
{
	const struct {
		const char *key, *flag, *before, *now;
		bool given;
	} keys[] = {
	    {"pin_dir", "--bpffs", old->pin_dir, c->pin_dir, d->pin_dir_given},
	    {"attach_cgroup", "--attach-cgroup", old->attach_cgroup, c->attach_cgroup,
	     d->attach_cgroup_given},
	};

	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		if (keys[i].before == keys[i].now ||
		    (keys[i].before && keys[i].now && strcmp(keys[i].before, keys[i].now) == 0))
			continue;
		if (keys[i].given)
			log_warning("%s changed in the configuration, but %s given to netpold overrides it.",
				    keys[i].key, keys[i].flag);
		else
			log_warning("%s changed in the configuration; it takes effect when netpold starts "
				    "again, after `netpolctl teardown` of the data plane it runs now.",
				    keys[i].key);
	}
}

/* The manager's reload (SIGHUP and the "reload" method): all of the file
 * or none of it. Logs, and tells systemd. */
static int daemon_reload(void *userdata, struct np_config_error *err, bool *ret_found)
{
	struct daemon *d = userdata;
	struct manager *m = d->m;
	struct np_config c;
	bool restart;
	int r;

	(void)sd_notify(0, "RELOADING=1");
	r = config_init(&c);
	if (r >= 0)
		r = config_read(&c, m->config_path, m->config_required, ret_found, err);
	if (r < 0) {
		config_done(&c);
		if (r == -ENOMEM)
			log_oom();
		else
			log_error_errno(r, "%s; keeping the previous configuration.", err->message);
		(void)sd_notify(0, "READY=1");
		return r;
	}
	warn_start_only(d, &m->config, &c);
	/* The sources read the configuration when they start. */
	restart = !config_containers_equal(&m->config, &c);
	if (restart)
		manager_stop_sources(m);
	config_done(&m->config);
	m->config = c;
	if (d->server)
		ctl_server_set_config(d->server, &m->config);
	if (d->socket_path[0])
		(void)ctl_socket_apply_config(d->socket_path, d->socket_owned, &m->config);
	if (restart)
		manager_start_sources(m, m->source_table);
	if (*ret_found)
		log_info("Reloaded the configuration from '%s'.", m->config_path);
	else
		log_info("No configuration file '%s'; reloaded the defaults.", m->config_path);
	(void)sd_notify(0, "READY=1");
	return 0;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct np_config_error err;
	bool found;

	(void)daemon_reload(userdata, &err, &found);
	return 0;
}

static int setup_signals(sd_event *e, struct daemon *d)
{
	sigset_t mask;
	int r;

	/* Blocked first, so that they arrive through signalfd only. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(-errno, "Failed to block signals: %m");
	/* A client that hangs up must not kill us; send() also says MSG_NOSIGNAL. */
	signal(SIGPIPE, SIG_IGN);
	r = sd_event_add_signal(e, NULL, SIGTERM, on_exit_signal, NULL);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGINT, on_exit_signal, NULL);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGHUP, on_reload, d);
	if (r < 0)
		return log_error_errno(r, "Failed to watch signals: %m");
	return 0;
}

static int open_listener(const struct args *a, struct daemon *d, const struct np_config *config, int *ret_fd)
{
	int r;

	r = listen_fd_from_systemd(ret_fd);
	if (r < 0)
		return r;
	if (r > 0) {
		struct sockaddr_un sa = {};
		socklen_t len = sizeof(sa);

		d->socket_owned = false;
		log_info("Using the control socket passed by systemd.");
		if (getsockname(*ret_fd, (struct sockaddr *)&sa, &len) == 0 && sa.sun_path[0] == '/' &&
		    (size_t)len > offsetof(struct sockaddr_un, sun_path)) {
			memcpy(d->socket_path, sa.sun_path, sizeof(d->socket_path) - 1);
			(void)ctl_socket_apply_config(d->socket_path, false, config);
		}
		return 0;
	}
	d->socket_owned = true;
	snprintf(d->socket_path, sizeof(d->socket_path), "%s", a->socket_path);
	return ctl_socket_listen(a->socket_path, config, ret_fd);
}

/* The socket's directory, which lives as long as the boot (/run/netpol),
 * in dir; false if it has none. */
static bool runtime_dir(const char *socket_path,
			char dir[static sizeof(((struct daemon *)NULL)->socket_path)])
{
	char *slash;

	snprintf(dir, sizeof(((struct daemon *)NULL)->socket_path), "%s", socket_path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return false;
	*slash = '\0';
	return true;
}

static void note_start(struct daemon *d)
{
	char dir[sizeof(d->socket_path)];

	manager_pins_note_start(d->m, runtime_dir(d->socket_path, dir) ? dir : NULL);
}

/* A flag wins over the configuration, which wins over the default. */
static const char *pick(const char *flag, const char *key, const char *fallback)
{
	return flag ?: key ?: fallback;
}

static int run(const struct args *a)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(daemon_done) struct daemon d = {};
	struct manager *m;
	struct manager_opts mo = {
	    .cgroup_root = a->cgroup_root,
	    .state_dir = a->state_dir,
	};
	struct np_config config;
	bool found = false;
	int fd = -EBADF, r;

	r = config_init(&config);
	if (r < 0)
		return log_oom();
	r = config_load(&config, a->config_path, a->config_given, &found);
	if (r < 0) {
		config_done(&config);
		return r;
	}
	if (found)
		log_info("Read the configuration from '%s'.", a->config_path);
	mo.pin_dir = pick(a->pin_dir, config.pin_dir, NP_PIN_DIR_DEFAULT);
	mo.attach_cgroup = pick(a->attach_cgroup, config.attach_cgroup, NULL);
	d.pin_dir_given = a->pin_dir;
	d.attach_cgroup_given = a->attach_cgroup;
	r = manager_pins_host_check(mo.pin_dir);
	if (r < 0) {
		config_done(&config);
		return r;
	}
	r = sd_event_default(&e);
	if (r < 0) {
		config_done(&config);
		return log_error_errno(r, "Failed to create the event loop: %m");
	}
	log_setup_libbpf();
	r = manager_new(e, &mo, &d.m);
	if (r < 0) {
		config_done(&config);
		return r;
	}
	m = d.m;
	config_done(&m->config);
	m->config = config;
	m->config_path = a->config_path;
	m->config_required = a->config_given;
	m->reload = daemon_reload;
	m->reload_userdata = &d;

	r = setup_signals(e, &d);
	if (r < 0)
		return r;
	r = manager_start_events(m);
	if (r < 0)
		return r;
	r = manager_restore(m);
	if (r < 0)
		return r;
	r = open_listener(a, &d, &m->config, &fd);
	if (r < 0)
		return r;
	note_start(&d);
	r = ctl_server_new(e, &m->config, ctl_methods, m, fd, &d.server);
	if (r < 0) {
		close(fd);
		return log_error_errno(r, "Failed to serve the control socket: %m");
	}
	m->publish = ctl_watch_publish;
	m->publish_userdata = d.server;
	m->answered = (void (*)(void *))ctl_server_resume;
	m->answered_userdata = d.server;
	manager_start_sources(m, np_sources);
	/* Pings WATCHDOG=1 at half of WATCHDOG_USEC from the loop itself, so a
	 * wedged loop is noticed. */
	r = sd_event_set_watchdog(e, true);
	if (r < 0)
		log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");

	log_info("netpold %s ready: %u policies, %zu bindings, socket '%s'.", NETPOL_VERSION, m->n_pols,
		 m->n_binds, d.socket_owned ? a->socket_path : "(from systemd)");
	(void)sd_notifyf(0, "READY=1\nSTATUS=Enforcing %u policies on %zu cgroups.", m->n_pols, m->n_binds);

	r = sd_event_loop(e);
	if (r < 0)
		return log_error_errno(r, "Event loop failed: %m");
	/* Torn down (netpolctl teardown): on purpose, not a lost data plane. */
	if (!m->dp) {
		char dir[sizeof(d.socket_path)];

		manager_pins_forget_start(runtime_dir(d.socket_path, dir) ? dir : NULL);
	}
	/* The pins keep enforcing; only our own socket file goes. */
	if (d.socket_owned)
		(void)unlink(a->socket_path);
	return 0;
}

/* netpold --teardown: the pin directory of the flag, else of the
 * configuration, as a start would take it. */
static int teardown(const struct args *a)
{
	char dir[sizeof(((struct daemon *)NULL)->socket_path)];
	struct np_config config;
	int r;

	r = config_init(&config);
	if (r < 0)
		return log_oom();
	r = config_load(&config, a->config_path, a->config_given, NULL);
	if (r >= 0)
		r = netpold_teardown(pick(a->pin_dir, config.pin_dir, NP_PIN_DIR_DEFAULT), a->state_dir,
				     a->forget);
	if (r >= 0)
		manager_pins_forget_start(runtime_dir(a->socket_path, dir) ? dir : NULL);
	config_done(&config);
	return r;
}

int main(int argc, char **argv)
{
	struct args a = {
	    .socket_path = NP_SOCKET_PATH_DEFAULT,
	    .state_dir = NP_STATE_DIR_DEFAULT,
	    .config_path = NP_CONFIG_PATH_DEFAULT,
	    .log_level = LOG_INFO,
	    .log_target = LOG_TARGET_AUTO,
	};
	int r;

	log_setup(LOG_TARGET_AUTO);
	r = parse_args(argc, argv, &a);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	log_setup(a.foreground ? LOG_TARGET_STDERR : (enum log_target)a.log_target);
	log_set_max_level(a.log_level);

	if (a.teardown)
		return teardown(&a) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	r = run(&a);
	if (r < 0) {
		(void)sd_notifyf(0, "STATUS=Failed to start: %s\nERRNO=%d", strerror(-r), -r);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
