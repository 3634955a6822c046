/* Unit tests for runtime/spec*.c: config.json parsing, validation, resolve. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/spec.h"
#include "tap.h"

/* Specs are written with ' for " to stay readable; q() swaps them back. */
static char *q(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static struct rt_spec *parse_ok(const char *json, const char *what)
{
	struct lv_error *err = NULL;
	struct rt_spec *spec = NULL;
	char *text = q(json);
	int r = rt_spec_parse(text, strlen(text), &spec, &err);

	ok(r == 0 && spec, "%s parses", what);
	if (err)
		printf("#   error: %s\n", err->msg);
	lv_error_free(&err);
	free(text);
	return spec;
}

static void parse_fails(const char *json, const char *want)
{
	struct lv_error *err = NULL;
	struct rt_spec *spec = NULL;
	char *text = q(json);
	int r = rt_spec_parse(text, strlen(text), &spec, &err);
	char *w = q(want);
	int good = r == -EINVAL && !spec && err && err->msg && strstr(err->msg, w);

	ok(good, "rejected with '%s'", w);
	if (!good)
		printf("#   r=%d msg=%s\n", r, err && err->msg ? err->msg : "(none)");
	lv_error_free(&err);
	rt_spec_free(spec);
	free(text);
	free(w);
}

#define ROOT "'ociVersion':'1.0.2','root':{'path':'rootfs'}"
#define PROC(extra) "'process':{'args':['sh'],'cwd':'/'" extra "}"
#define SPEC(extra) "{" ROOT "," PROC("") extra "}"
#define SPEC_P(extra) "{" ROOT "," PROC(extra) "}"
#define LINUX(extra) "{" ROOT ",'linux':{" extra "}}"

/* What `runc spec` writes (runc 1.1). */
static const char runc_spec[] =
	"{'ociVersion':'1.0.2-dev','process':{'terminal':true,'user':{'uid':0,'gid':0},'args':['sh'],"
	"'env':['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin','TERM=xterm'],'cwd':'/',"
	"'capabilities':{'bounding':['CAP_AUDIT_WRITE','CAP_KILL','CAP_NET_BIND_SERVICE'],"
	"'effective':['CAP_AUDIT_WRITE','CAP_KILL','CAP_NET_BIND_SERVICE'],"
	"'permitted':['CAP_AUDIT_WRITE','CAP_KILL','CAP_NET_BIND_SERVICE'],"
	"'ambient':['CAP_AUDIT_WRITE','CAP_KILL','CAP_NET_BIND_SERVICE']},"
	"'rlimits':[{'type':'RLIMIT_NOFILE','hard':1024,'soft':1024}],'noNewPrivileges':true},"
	"'root':{'path':'rootfs','readonly':true},'hostname':'runc',"
	"'mounts':[{'destination':'/proc','type':'proc','source':'proc'},"
	"{'destination':'/dev','type':'tmpfs','source':'tmpfs','options':['nosuid','strictatime','mode=755','size=65536k']},"
	"{'destination':'/dev/pts','type':'devpts','source':'devpts','options':['nosuid','noexec','newinstance','ptmxmode=0666','mode=0620','gid=5']},"
	"{'destination':'/dev/shm','type':'tmpfs','source':'shm','options':['nosuid','noexec','nodev','mode=1777','size=65536k']},"
	"{'destination':'/dev/mqueue','type':'mqueue','source':'mqueue','options':['nosuid','noexec','nodev']},"
	"{'destination':'/sys','type':'sysfs','source':'sysfs','options':['nosuid','noexec','nodev','ro']},"
	"{'destination':'/sys/fs/cgroup','type':'cgroup','source':'cgroup','options':['nosuid','noexec','nodev','relatime','ro']}],"
	"'linux':{'resources':{'devices':[{'allow':false,'access':'rwm'}]},"
	"'namespaces':[{'type':'pid'},{'type':'network'},{'type':'ipc'},{'type':'uts'},{'type':'mount'},{'type':'cgroup'}],"
	"'maskedPaths':['/proc/acpi','/proc/asound','/proc/kcore','/proc/keys','/proc/latency_stats','/proc/timer_list',"
	"'/proc/timer_stats','/proc/sched_debug','/sys/firmware','/proc/scsi'],"
	"'readonlyPaths':['/proc/bus','/proc/fs','/proc/irq','/proc/sys','/proc/sysrq-trigger']}}";

/* Shaped like what docker (moby) hands to runc. */
static const char docker_spec[] =
	"{'ociVersion':'1.0.2-dev','process':{'user':{'uid':0,'gid':0,'additionalGids':[0,1,2,3,4,6,10,11,20,26,27]},"
	"'args':['nginx','-g','daemon off;'],'env':['PATH=/usr/bin:/bin','HOSTNAME=abc'],'cwd':'/',"
	"'capabilities':{'bounding':['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_FSETID','CAP_FOWNER','CAP_MKNOD','CAP_NET_RAW',"
	"'CAP_SETGID','CAP_SETUID','CAP_SETFCAP','CAP_SETPCAP','CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL','CAP_AUDIT_WRITE'],"
	"'effective':['CAP_CHOWN'],'permitted':['CAP_CHOWN']},"
	"'rlimits':[{'type':'RLIMIT_NOFILE','hard':18446744073709551615,'soft':18446744073709551615}],"
	"'apparmorProfile':'docker-default','oomScoreAdj':0},"
	"'root':{'path':'/var/lib/docker/overlay2/abc/merged'},'hostname':'abc',"
	"'mounts':[{'destination':'/proc','type':'proc','source':'proc','options':['nosuid','noexec','nodev']},"
	"{'destination':'/dev','type':'tmpfs','source':'tmpfs','options':['nosuid','strictatime','mode=755','size=65536k']},"
	"{'destination':'/dev/pts','type':'devpts','source':'devpts','options':['nosuid','noexec','newinstance','ptmxmode=0666','mode=0620','gid=5']},"
	"{'destination':'/sys','type':'sysfs','source':'sysfs','options':['nosuid','noexec','nodev','ro']},"
	"{'destination':'/sys/fs/cgroup','type':'cgroup','source':'cgroup','options':['ro','nosuid','noexec','nodev']},"
	"{'destination':'/dev/mqueue','type':'mqueue','source':'mqueue','options':['nosuid','noexec','nodev']},"
	"{'destination':'/dev/shm','type':'bind','source':'/var/lib/docker/containers/abc/mounts/shm','options':['rbind','rprivate']},"
	"{'destination':'/etc/resolv.conf','type':'bind','source':'/var/lib/docker/containers/abc/resolv.conf','options':['rbind','rprivate']}],"
	"'hooks':{'prestart':[{'path':'/proc/1234/exe','args':['libnetwork-setkey','-exec-root=/var/run/docker','abc','def']}]},"
	"'linux':{'sysctl':{'net.ipv4.ip_unprivileged_port_start':'0','net.ipv4.ping_group_range':'0 2147483647'},"
	"'resources':{'devices':[{'allow':false,'access':'rwm'},{'allow':true,'type':'c','major':1,'minor':5,'access':'rwm'}],"
	"'memory':{'limit':268435456,'swap':536870912},'cpu':{'shares':1024,'quota':200000,'period':100000},"
	"'pids':{'limit':100},'blockIO':{'weight':0}},"
	"'cgroupsPath':'system.slice:docker:abc',"
	"'namespaces':[{'type':'mount'},{'type':'network','path':'/var/run/docker/netns/abc'},{'type':'uts'},{'type':'pid'},{'type':'ipc'}],"
	"'seccomp':{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':1,'architectures':['SCMP_ARCH_X86_64'],"
	"'syscalls':[{'names':['accept','read'],'action':'SCMP_ACT_ALLOW'}]},"
	"'maskedPaths':['/proc/asound','/proc/acpi'],'readonlyPaths':['/proc/bus']}}";

/* Shaped like what podman (via conmon) hands to crun/runc. */
static const char podman_spec[] =
	"{'ociVersion':'1.1.0','process':{'terminal':false,'user':{'uid':1000,'gid':1000,'umask':18},"
	"'args':['/bin/sh','-c','sleep 100'],'env':['PATH=/usr/bin','container=podman','HOME=/root'],'cwd':'/',"
	"'capabilities':{'bounding':['CAP_CHOWN','CAP_NET_BIND_SERVICE'],'effective':['CAP_CHOWN'],'inheritable':[],"
	"'permitted':['CAP_CHOWN'],'ambient':null},"
	"'rlimits':[{'type':'RLIMIT_NOFILE','hard':524288,'soft':524288},{'type':'RLIMIT_NPROC','hard':4194304,'soft':4194304}],"
	"'oomScoreAdj':100,'selinuxLabel':'system_u:system_r:container_t:s0:c1,c2'},"
	"'root':{'path':'/home/u/.local/share/containers/storage/overlay/x/merged'},'hostname':'abc',"
	"'mounts':[{'destination':'/proc','type':'proc','source':'proc','options':['nosuid','noexec','nodev']},"
	"{'destination':'/dev','type':'tmpfs','source':'tmpfs','options':['nosuid','strictatime','mode=755','size=65536k']},"
	"{'destination':'/sys','type':'sysfs','source':'sysfs','options':['nosuid','noexec','nodev','ro']},"
	"{'destination':'/dev/pts','type':'devpts','source':'devpts','options':['nosuid','noexec','newinstance','ptmxmode=0666','mode=0620','gid=5']},"
	"{'destination':'/dev/mqueue','type':'mqueue','source':'mqueue','options':['nosuid','noexec','nodev']},"
	"{'destination':'/etc/hosts','type':'bind','source':'/run/user/1000/containers/x/userdata/hosts','options':['bind','rprivate']},"
	"{'destination':'/dev/shm','type':'bind','source':'/home/u/.local/share/containers/storage/overlay-containers/x/userdata/shm','options':['bind','rprivate','nosuid','noexec','nodev']},"
	"{'destination':'/run/.containerenv','type':'bind','source':'/run/user/1000/containers/x/userdata/.containerenv','options':['bind','rprivate']},"
	"{'destination':'/sys/fs/cgroup','type':'cgroup','source':'cgroup','options':['rprivate','nosuid','noexec','nodev','relatime','ro']}],"
	"'annotations':{'io.container.manager':'libpod','org.opencontainers.image.stopSignal':'15','io.podman.annotations.autoremove':'FALSE'},"
	"'linux':{'sysctl':{'net.ipv4.ping_group_range':'0 0'},"
	"'resources':{'pids':{'limit':2048}},'cgroupsPath':'user.slice:libpod:x',"
	"'namespaces':[{'type':'pid'},{'type':'network'},{'type':'ipc'},{'type':'uts'},{'type':'mount'},{'type':'cgroup'}],"
	"'seccomp':{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[]},'maskedPaths':['/proc/acpi'],'readonlyPaths':['/proc/fs'],"
	"'rootfsPropagation':'private','mountLabel':'system_u:object_r:container_file_t:s0:c1,c2'}}";

static void test_minimal(void)
{
	struct rt_spec *s = parse_ok("{'ociVersion':'1.0.0','root':{'path':'rootfs'},'process':{'args':['sh'],'cwd':'/'}}",
				     "minimal spec");

	if (!s)
		return;
	is_str(s->root_path, "rootfs", "root.path");
	ok(s->has_process && s->process.nargs == 1 && s->process.args[1] == NULL, "args NULL-terminated");
	ok(s->process.env && s->process.env[0] == NULL && s->process.nenv == 0, "env empty but non-NULL");
	ok(s->process.umask == -1 && !s->process.caps.present && !s->process.has_oom_score_adj, "defaults");
	ok(s->mem_mib == 0 && s->vcpus == 0 && !s->netns_path && !s->rootfs, "default sizes, unresolved");
	rt_spec_free(s);

	s = parse_ok("{'root':{'path':'/r'}}", "spec without process");
	ok(s && !s->has_process && !s->oci_version, "has_process false");
	rt_spec_free(s);

	s = parse_ok("{'root':{'path':'r'},'process':{'args':['a'],'cwd':'/','env':null},'mounts':null,'hooks':null,"
		     "'linux':{'resources':null,'uidMappings':[]},'unknownField':{'x':1}}",
		     "nulls and unknown fields");
	rt_spec_free(s);
	rt_spec_free(NULL);
	ok(1, "rt_spec_free(NULL)");
}

static void test_runc_spec(void)
{
	struct rt_spec *s = parse_ok(runc_spec, "runc spec output");
	uint64_t caps = (1ull << 29) | (1ull << 5) | (1ull << 10);

	if (!s)
		return;
	ok(s->process.terminal && s->root_readonly && s->process.no_new_privileges, "terminal, readonly, nnp");
	is_str(s->hostname, "runc", "hostname");
	ok(s->process.caps.present && s->process.caps.bounding == caps && s->process.caps.ambient == caps &&
		   s->process.caps.inheritable == 0,
	   "capabilities mapped to bits");
	ok(s->process.nrlimits == 1 && s->process.rlimits[0].resource == RLIMIT_NOFILE &&
		   s->process.rlimits[0].hard == 1024 && s->process.rlimits[0].soft == 1024,
	   "rlimit NOFILE");
	ok(s->nmounts == 7, "7 mounts");
	if (s->nmounts == 7) {
		ok(s->mounts[1].kind == RT_MOUNT_GUEST && s->mounts[1].flags == (MS_NOSUID | MS_STRICTATIME),
		   "/dev tmpfs flags");
		is_str(s->mounts[1].data, "mode=755,size=65536k", "/dev tmpfs data");
		is_str(s->mounts[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts data");
		ok(s->mounts[5].flags == (MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY) && !s->mounts[5].data,
		   "sysfs flags, no data");
		ok(s->mounts[6].kind == RT_MOUNT_IGNORED, "cgroup mount ignored");
	}
	ok(!s->netns_path, "no network namespace path");
	rt_spec_free(s);
}

static void test_docker_podman(void)
{
	struct rt_spec *s = parse_ok(docker_spec, "docker-style spec");

	if (s) {
		ok(s->process.rlimits[0].hard == UINT64_MAX && s->process.rlimits[0].soft == UINT64_MAX,
		   "RLIM_INFINITY beyond int64 accepted");
		ok(s->mem_mib == 256 && s->vcpus == 2, "memory 256 MiB, 2 vCPUs");
		is_str(s->netns_path, "/var/run/docker/netns/abc", "network namespace path");
		ok(s->nsysctls == 2, "sysctls");
		ok(s->hooks.n_prestart == 1 && s->hooks.prestart[0].args && s->hooks.prestart[0].args[4] == NULL,
		   "prestart hook");
		ok(s->nmounts == 8 && s->mounts[6].bind && s->mounts[6].flags == (MS_BIND | MS_REC),
		   "/dev/shm rbind");
		ok(s->process.n_additional_gids == 11 && s->process.additional_gids[10] == 27, "additionalGids");
		ok(s->process.has_oom_score_adj && s->process.oom_score_adj == 0, "oomScoreAdj 0 recorded");
		rt_spec_free(s);
	}
	s = parse_ok(podman_spec, "podman-style spec");
	if (s) {
		ok(s->process.uid == 1000 && s->process.umask == 18 && s->process.oom_score_adj == 100, "user, oom");
		is_str(rt_spec_annotation(s, "io.container.manager"), "libpod", "annotation lookup");
		ok(rt_spec_annotation(s, "nope") == NULL && rt_spec_annotation(NULL, "x") == NULL, "missing annotation");
		ok(s->process.nrlimits == 2 && s->process.rlimits[1].resource == RLIMIT_NPROC, "RLIMIT_NPROC");
		is_str(s->sysctls[0].key, "net.ipv4.ping_group_range", "sysctl key");
		is_str(s->sysctls[0].value, "0 0", "sysctl value");
		rt_spec_free(s);
	}
}

static void test_errors(void)
{
	parse_fails("{'root':", "config.json: invalid JSON at line 1 column");
	parse_fails("[1]", "config.json: must be a JSON object");
	parse_fails("{'root':{'path':'a'},'root':{'path':'b'}}", "config.json: invalid JSON");
	parse_fails("{'root':{'path':'a'},'x':18446744073709551616}", "config.json: invalid JSON");
	parse_fails("{'ociVersion':'2.0.0','root':{'path':'r'}}", "ociVersion: '2.0.0' is not supported");
	parse_fails("{'process':{'args':['sh'],'cwd':'/'}}", "root.path: is required");
	parse_fails("{'root':{'path':''}}", "root.path: must be a non-empty string");
	parse_fails("{'root':{'path':'r','readonly':'yes'}}", "root.readonly: must be true or false");
	parse_fails("{'root':{'path':'r'},'hostname':5}", "hostname: must be a string");
	parse_fails("{'root':{'path':'r'},'hostname':18446744073709551615}", "hostname: must be a string");
	parse_fails("{'root':{'path':'r'},'hostname':'a\\u0000b'}", "hostname: must not contain NUL");
	parse_fails("{'root':{'path':'r'},'process':[]}", "process: must be an object");
	parse_fails("{" ROOT ",'process':{'cwd':'/'}}", "process.args: must be a non-empty array of strings");
	parse_fails("{" ROOT ",'process':{'args':[],'cwd':'/'}}", "process.args: must be a non-empty array of strings");
	parse_fails("{" ROOT ",'process':{'args':['a',1],'cwd':'/'}}", "process.args[1]: must be a string");
	parse_fails(SPEC_P(",'env':['A=1','B']"), "process.env[1]: 'B' is not of the form NAME=VALUE");
	parse_fails("{" ROOT ",'process':{'args':['sh']}}", "process.cwd: is required");
	parse_fails("{" ROOT ",'process':{'args':['sh'],'cwd':'tmp'}}", "process.cwd: must be an absolute path");
	parse_fails(SPEC_P(",'terminal':1"), "process.terminal: must be true or false");
	parse_fails(SPEC_P(",'user':{'uid':-1}"), "process.user.uid: -1 is out of range");
	parse_fails(SPEC_P(",'user':{'uid':4294967295}"), "process.user.uid: 4294967295 is out of range");
	parse_fails(SPEC_P(",'user':{'uid':18446744073709551615}"), "process.user.uid: 18446744073709551615 is out of range");
	parse_fails(SPEC_P(",'user':{'gid':'0'}"), "process.user.gid: must be an integer");
	parse_fails(SPEC_P(",'user':{'additionalGids':[1,'x']}"), "process.user.additionalGids[1]: must be an integer");
	parse_fails(SPEC_P(",'user':{'umask':512}"), "process.user.umask: 512 is out of range");
	parse_fails(SPEC_P(",'user':{'username':'bob'}"), "process.user.username: is only supported on Windows");
	parse_fails(SPEC_P(",'consoleSize':{'height':70000,'width':80}"), "process.consoleSize.height");
	parse_fails(SPEC_P(",'rlimits':[{'type':'RLIMIT_CPU','hard':1,'soft':1},{'type':'RLIMIT_AS','hard':1,'soft':1},"
			   "{'type':'RLIMIT_FOO','hard':1,'soft':1}]"),
		    "process.rlimits[2].type: unknown rlimit 'RLIMIT_FOO'");
	parse_fails(SPEC_P(",'rlimits':[{'type':'RLIMIT_CPU','hard':1,'soft':1},{'type':'RLIMIT_CPU','hard':2,'soft':2}]"),
		    "process.rlimits[1]: duplicate rlimit 'RLIMIT_CPU'");
	parse_fails(SPEC_P(",'rlimits':[{'type':'RLIMIT_CPU','hard':-1,'soft':1}]"),
		    "process.rlimits[0].hard: must be an unsigned integer");
	parse_fails(SPEC_P(",'rlimits':[{'type':'RLIMIT_CPU','hard':1}]"), "process.rlimits[0].soft: is required");
	parse_fails(SPEC_P(",'rlimits':{}"), "process.rlimits: must be an array");
	parse_fails(SPEC_P(",'capabilities':{'bounding':['CAP_KILL','CAP_FOO']}"),
		    "process.capabilities.bounding[1]: unknown capability 'CAP_FOO'");
	parse_fails(SPEC_P(",'capabilities':{'ambient':'CAP_KILL'}"), "process.capabilities.ambient: must be an array");
	parse_fails(SPEC_P(",'oomScoreAdj':1001"), "process.oomScoreAdj: 1001 is out of range");
	parse_fails(SPEC_P(",'ioPriority':{'class':'IOPRIO_CLASS_IDLE'}"), "process.ioPriority: is not supported");
	parse_fails(SPEC_P(",'scheduler':{'policy':'SCHED_OTHER'}"), "process.scheduler: is not supported");
	parse_fails(SPEC_P(",'execCPUAffinity':{'initial':'0'}"), "process.execCPUAffinity: is not supported");
	parse_fails(SPEC_P(",'apparmorProfile':7"), "process.apparmorProfile: must be a string");
	parse_fails(SPEC(",'mounts':{}"), "mounts: must be an array");
	parse_fails(SPEC(",'mounts':[{'type':'tmpfs'}]"), "mounts[0].destination: is required");
	parse_fails(SPEC(",'mounts':[{'destination':'/a','type':'proc'},{'destination':'tmp','type':'tmpfs'}]"),
		    "mounts[1].destination: must be an absolute path");
	parse_fails(SPEC(",'mounts':[{'destination':'/a','type':'nfs','source':'h:/x'}]"),
		    "mounts[0]: file system type 'nfs' is not supported in a lightvm guest");
	parse_fails(SPEC(",'mounts':[{'destination':'/a'}]"), "mounts[0]: a mount that is not a bind mount needs");
	parse_fails(SPEC(",'mounts':[{'destination':'/a','type':'tmpfs','options':'ro'}]"),
		    "mounts[0].options: must be an array");
	parse_fails(SPEC(",'mounts':[{'destination':'/a','type':'tmpfs','options':[1]}]"),
		    "mounts[0].options[0]: must be a string");
	parse_fails(SPEC(",'mounts':[{'destination':'/a','type':'bind','source':'/x','uidMappings':[{}]}]"),
		    "mounts[0]: idmapped mounts are not supported");
	parse_fails(SPEC(",'hooks':{'prestart':[{'path':'hook'}]}"), "hooks.prestart[0].path: must be an absolute path");
	parse_fails(SPEC(",'hooks':{'poststop':[{'path':'/a'},{'path':'/b','timeout':0}]}"),
		    "hooks.poststop[1].timeout: must be a positive integer");
	parse_fails(SPEC(",'hooks':{'createRuntime':[{'path':'/a','args':'x'}]}"),
		    "hooks.createRuntime[0].args: must be an array of strings");
	parse_fails(SPEC(",'hooks':{'startContainer':[{}]}"), "hooks.startContainer[0].path: is required");
	parse_fails(SPEC(",'annotations':{'a':'b','c':1}"), "annotations['c']: must be a string");
	parse_fails(LINUX("'sysctl':{'kernel.x':1}"), "linux.sysctl['kernel.x']: must be a string");
	parse_fails(LINUX("'resources':{'memory':{'limit':1048576}}"),
		    "linux.resources.memory.limit: 1048576 bytes is below the minimum VM size of 32 MiB");
	parse_fails(LINUX("'resources':{'memory':{'limit':-5}}"), "linux.resources.memory.limit: -5 is out of range");
	parse_fails(LINUX("'resources':{'cpu':{'quota':10000000,'period':100000}}"),
		    "linux.resources.cpu.quota: 100 CPUs is above the maximum of 64 vCPUs");
	parse_fails(LINUX("'resources':{'cpu':{'cpus':'0-99'}}"), "linux.resources.cpu.cpus: 100 CPUs is above");
	parse_fails(LINUX("'resources':{'cpu':{'cpus':'0-3,x'}}"), "linux.resources.cpu.cpus: '0-3,x' is not a CPU list");
	parse_fails(LINUX("'resources':{'cpu':{'cpus':'3-1'}}"), "linux.resources.cpu.cpus");
	parse_fails(LINUX("'resources':{'cpu':{'period':-1}}"), "linux.resources.cpu.period: must be an unsigned");
	parse_fails(LINUX("'uidMappings':[{'containerID':0,'hostID':1000,'size':1}]"),
		    "linux.uidMappings: user namespaces are not supported (the VM is the isolation boundary)");
	parse_fails(LINUX("'gidMappings':[{'containerID':0,'hostID':1000,'size':1}]"), "linux.gidMappings: user namespaces");
	parse_fails(LINUX("'devices':[{'path':'/dev/fuse','type':'c','major':10,'minor':229}]"),
		    "linux.devices: passing host devices into the VM is not supported yet");
	parse_fails(LINUX("'namespaces':[{'type':'pid'},{'type':'bogus'}]"),
		    "linux.namespaces[1].type: unknown namespace type 'bogus'");
	parse_fails(LINUX("'namespaces':[{'type':'network','path':'netns'}]"),
		    "linux.namespaces[0].path: must be an absolute path");
	parse_fails("{" ROOT ",'windows':{'layerFolders':[]}}", "windows: this is not a Linux spec");
	parse_fails("{" ROOT ",'solaris':{}}", "solaris: this is not a Linux spec");
	parse_fails("{" ROOT ",'zos':{}}", "zos: this is not a Linux spec");
	parse_fails("{" ROOT ",'vm':{'kernel':{'path':'/k'}}}", "vm: not supported: lightvm chooses its own kernel");
}

static struct rt_spec *linux_spec(const char *linux_body)
{
	char *json = NULL;
	struct rt_spec *s;

	if (asprintf(&json, LINUX("%s"), linux_body) < 0)
		return NULL;
	s = parse_ok(json, linux_body);
	free(json);
	return s;
}

static void test_resources(void)
{
	static const struct {
		const char *body;
		uint64_t mem_mib;
		unsigned vcpus;
	} cases[] = {
		{ "'resources':{'memory':{'limit':67108864}}", 64, 0 },
		{ "'resources':{'memory':{'limit':67108865}}", 65, 0 },
		{ "'resources':{'memory':{'limit':-1,'reservation':1}}", 0, 0 },
		{ "'resources':{'memory':{'limit':0}}", 0, 0 },
		{ "'resources':{'cpu':{'quota':150000,'period':100000}}", 0, 2 },
		{ "'resources':{'cpu':{'quota':-1,'period':100000}}", 0, 0 },
		{ "'resources':{'cpu':{'quota':250000}}", 0, 3 },
		{ "'resources':{'cpu':{'cpus':'0-3,5'}}", 0, 5 },
		{ "'resources':{'cpu':{'cpus':'0-3,2-5'}}", 0, 6 },
		{ "'resources':{'cpu':{'cpus':''}}", 0, 0 },
		{ "'resources':{'cpu':{'quota':400000,'period':100000,'cpus':'0,1'}}", 0, 2 },
		{ "'resources':{'cpu':{'quota':100000,'period':100000,'cpus':'0-7'}}", 0, 1 },
		{ "'resources':{'cpu':{'quota':10000000,'period':100000,'cpus':'0-3'}}", 0, 4 },
		{ "'resources':{'cpu':{'shares':2,'mems':'0','realtimeRuntime':1}}", 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rt_spec *s = linux_spec(cases[i].body);

		ok(s && s->mem_mib == cases[i].mem_mib && s->vcpus == cases[i].vcpus,
		   "-> mem_mib %llu, vcpus %u (got %llu, %u)", (unsigned long long)cases[i].mem_mib, cases[i].vcpus,
		   s ? (unsigned long long)s->mem_mib : 0ULL, s ? s->vcpus : 0);
		rt_spec_free(s);
	}
}

static void test_mapping(void)
{
	struct rt_spec *s = parse_ok(
		SPEC_P(",'rlimits':[{'type':'RLIMIT_CORE','hard':0,'soft':0},{'type':'RLIMIT_RTTIME','hard':5,'soft':9}],"
		       "'capabilities':{'bounding':['CAP_CHOWN','CAP_CHECKPOINT_RESTORE','CAP_BPF'],'effective':[],"
		       "'permitted':['CAP_SYS_ADMIN']},'consoleSize':{'height':24,'width':80}"),
		"rlimits and capabilities");

	if (s) {
		ok(s->process.rlimits[0].resource == RLIMIT_CORE && s->process.rlimits[1].resource == RLIMIT_RTTIME &&
			   s->process.rlimits[1].soft == 9 && s->process.rlimits[1].hard == 5,
		   "rlimit types map to RLIMIT_*, soft > hard allowed");
		ok(s->process.caps.bounding == (1ull | (1ull << 40) | (1ull << 39)), "bounding mask");
		ok(s->process.caps.permitted == (1ull << 21) && s->process.caps.effective == 0, "permitted mask");
		ok(s->process.rows == 24 && s->process.cols == 80, "consoleSize");
		rt_spec_free(s);
	}
	s = parse_ok(SPEC(",'mounts':[{'destination':'/t','type':'tmpfs','options':['ro','rw','nosuid','noexec','exec',"
			  "'noatime','atime','relatime','rprivate','tmpcopyup','size=1m','','mode=700']},"
			  "{'destination':'/b','type':'none','source':'/x','options':['rbind','ro']},"
			  "{'destination':'/c','type':'cgroup2','source':'cgroup'}]"),
		     "mount options");
	if (s) {
		ok(s->mounts[0].flags == (MS_NOSUID | MS_RELATIME) && !s->mounts[0].bind, "option flags set and cleared");
		is_str(s->mounts[0].data, "size=1m,mode=700", "unknown options joined into data");
		ok(s->mounts[1].bind && s->mounts[1].flags == (MS_BIND | MS_REC | MS_RDONLY), "rbind option → bind");
		ok(s->mounts[2].kind == RT_MOUNT_IGNORED, "cgroup2 ignored");
		rt_spec_free(s);
	}
}

static char tmp[64];

static void write_file(const char *name, size_t size)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "w");
	for (size_t i = 0; f && i < size; i++)
		fputc('x', f);
	if (f)
		fclose(f);
}

/* Parses spec and resolves it against the temp bundle. */
static int resolve(const char *json, struct rt_spec **out, struct lv_error **err)
{
	char *text = q(json);
	int r = rt_spec_parse(text, strlen(text), out, err);

	free(text);
	if (r < 0)
		return r;
	return rt_spec_resolve(*out, tmp, err);
}

static void resolve_fails(const char *json, const char *want, int want_r)
{
	struct lv_error *err = NULL;
	struct rt_spec *s = NULL;
	char *w = q(want);
	int r = resolve(json, &s, &err);
	int good = r == want_r && err && strstr(err->msg, w);

	ok(good, "resolve fails with '%s'", w);
	if (!good)
		printf("#   r=%d msg=%s\n", r, err ? err->msg : "(none)");
	lv_error_free(&err);
	rt_spec_free(s);
	free(w);
}

static void test_resolve(void)
{
	struct lv_error *err = NULL;
	struct rt_spec *s = NULL;
	char path[1024], *real;
	int r;

	strcpy(tmp, "/tmp/test_spec.XXXXXX");
	if (!mkdtemp(tmp)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/rootfs", tmp);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/vol", tmp);
	mkdir(path, 0755);
	write_file("hosts", 100);
	write_file("big", 70000);

	snprintf(path, sizeof(path), "{'root':{'path':'rootfs'},'mounts':["
		 "{'destination':'/etc/hosts','type':'bind','source':'%s/hosts','options':['rbind','ro']},"
		 "{'destination':'/etc/hostname','type':'bind','source':'hosts'},"
		 "{'destination':'/dev/shm','type':'bind','source':'/nonexistent','options':['rbind','nosuid','nodev','noexec']},"
		 "{'destination':'/proc','type':'proc'}]}", tmp);
	r = resolve(path, &s, &err);
	ok(r == 0, "bundle with file binds and /dev/shm resolves");
	if (err)
		printf("#   error: %s\n", err->msg);
	lv_error_free(&err);
	if (r == 0) {
		real = realpath(tmp, NULL);
		ok(real && strncmp(s->rootfs, real, strlen(real)) == 0 && strstr(s->rootfs, "/rootfs"),
		   "rootfs is absolute (%s)", s->rootfs);
		free(real);
		ok(s->mounts[0].kind == RT_MOUNT_FILE && s->mounts[1].kind == RT_MOUNT_FILE, "file binds → FILE");
		ok(s->mounts[1].source[0] == '/', "relative bind source resolved against the bundle");
		ok(s->mounts[2].kind == RT_MOUNT_GUEST && !s->mounts[2].bind &&
			   s->mounts[2].flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC),
		   "/dev/shm → guest tmpfs keeping nosuid,nodev,noexec");
		is_str(s->mounts[2].type, "tmpfs", "/dev/shm type");
		is_str(s->mounts[2].data, "mode=1777", "/dev/shm data");
		ok(s->mounts[3].kind == RT_MOUNT_GUEST, "proc untouched");
	}
	rt_spec_free(s);
	s = NULL;

	r = resolve("{'root':{'path':'rootfs'},'mounts':[{'destination':'/dev/shm','type':'bind','source':'/x',"
		    "'options':['bind','size=64m']}]}", &s, &err);
	ok(r == 0 && s && s->mounts[0].data && strcmp(s->mounts[0].data, "size=64m") == 0, "/dev/shm size kept");
	lv_error_free(&err);
	rt_spec_free(s);
	s = NULL;

	snprintf(path, sizeof(path), "{'root':{'path':'%s/rootfs'}}", tmp);
	r = resolve(path, &s, &err);
	ok(r == 0 && s && s->rootfs && strstr(s->rootfs, "/rootfs"), "absolute root.path");
	lv_error_free(&err);
	rt_spec_free(s);

	r = resolve("{'root':{'path':'vol'},'mounts':[{'destination':'/a','type':'proc'},"
		    "{'destination':'/data','type':'bind','source':'vol','options':['rbind','ro']}]}", &s, &err);
	ok(r == 0 && s && s->mounts[1].kind == RT_MOUNT_SHARED && s->mounts[1].source[0] == '/' &&
		   (s->mounts[1].flags & MS_RDONLY),
	   "a directory bind → SHARED, its source resolved against the bundle, ro kept");
	lv_error_free(&err);
	rt_spec_free(s);
	s = NULL;
	resolve_fails("{'root':{'path':'vol'},'mounts':[{'destination':'/b','type':'bind','source':'big'}]}",
		      "is 70000 bytes, at most 65536 are copied into the guest", -EINVAL);
	resolve_fails("{'root':{'path':'vol'},'mounts':[{'destination':'/b','options':['bind'],'source':'/no/such'}]}",
		      "mounts[0]: bind source '/no/such': No such file or directory", -ENOENT);
	resolve_fails("{'root':{'path':'vol'},'mounts':[{'destination':'/b','options':['bind']}]}",
		      "mounts[0]: a bind mount needs a source", -EINVAL);
	resolve_fails("{'root':{'path':'vol'},'mounts':[{'destination':'/b','type':'bind','source':'/dev/null'}]}",
		      "mounts[0]: bind mount of special file", -EINVAL);
	resolve_fails("{'root':{'path':'hosts'}}", "root.path: 'hosts' is not a directory", -EINVAL);
	resolve_fails("{'root':{'path':'missing'}}", "root.path:", -ENOENT);
}

static void test_load(void)
{
	struct lv_error *err = NULL;
	struct rt_spec *s = NULL;
	char path[256], *json = q(SPEC(""));
	FILE *f;
	int r, fd;

	snprintf(path, sizeof(path), "%s/config.json", tmp);
	f = fopen(path, "w");
	if (f) {
		fputs(json, f);
		fclose(f);
	}
	free(json);
	r = rt_spec_load(tmp, &s, &err);
	ok(r == 0 && s && s->rootfs && s->has_process, "rt_spec_load reads, parses and resolves");
	if (err)
		printf("#   error: %s\n", err->msg);
	lv_error_free(&err);
	rt_spec_free(s);

	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd >= 0) {
		ok(ftruncate(fd, (4 << 20) + 1) == 0, "grow config.json past 4 MiB");
		close(fd);
	}
	r = rt_spec_load(tmp, &s, &err);
	ok(r == -EFBIG && !s && err && strstr(err->msg, "at most 4194304"), "oversized config.json refused");
	if (err)
		printf("#   %s\n", err->msg);
	lv_error_free(&err);
	unlink(path);

	r = rt_spec_load(tmp, &s, &err);
	snprintf(path, sizeof(path), "bundle \"%s\": config.json: No such file or directory", tmp);
	ok(r == -ENOENT && !s && err && strcmp(err->msg, path) == 0, "missing config.json");
	if (err)
		printf("#   %s\n", err->msg);
	lv_error_free(&err);

	snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
	if (system(path) != 0)
		printf("# could not remove %s\n", tmp);
}

int main(void)
{
	test_minimal();
	test_runc_spec();
	test_docker_podman();
	test_errors();
	test_resources();
	test_mapping();
	test_resolve();
	test_load();
	return tap_done();
}
