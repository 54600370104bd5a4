/**
 * The launcher every container terminal runs under. In a container we have neither cgroups nor
 * PID namespaces to spare (the engine owns both, and exec'd processes share the container's), so
 * the session is held together by process ancestry instead:
 *
 * - The launcher makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER). A process of the
 *   session whose parent exits, such as what `env -i setsid …` leaves behind, is re-parented to
 *   the launcher instead of the container's init, so every process the shell started stays a
 *   descendant of the launcher for as long as the launcher lives.
 * - The reaper (reaper.ts) kills the marked processes plus all their descendants, so it reaches
 *   processes that cleared the marker from their environment and left the session.
 * - When the shell exits by itself, the launcher kills its remaining descendants before exiting.
 * - It renames itself `mdind-term <marker> <owner>`: /proc/<pid>/cmdline is readable by root in the
 *   container without CAP_SYS_PTRACE (environ is not), so the start-up sweep can find the launchers
 *   a killed dashboard left, and which dashboard owned them.
 *
 * Perl, because every Debian image has it (perl-base is Essential) and it can call prctl, which no
 * shell utility does. An image without perl gets the shell directly and the marker reaper alone.
 * The script is fixed text: the marker, the owner and the command arrive as arguments and are
 * checked against their formats before use.
 */
export const LAUNCHER_SCRIPT = String.raw`
use strict;
use POSIX ();
my ($marker, $owner, @cmd) = @ARGV;
exit 64 unless defined $marker && $marker =~ /\A[a-f0-9]{32}\z/ && defined $owner && $owner =~ /\A[a-f0-9.]{1,120}\z/ && @cmd;
$0 = "mdind-term $marker $owner";
# prctl's syscall number: from syscall.ph where perl has it, else the table for common machines.
my %nr = (x86_64 => 157, aarch64 => 167, arm64 => 167, riscv64 => 167, i686 => 172, i386 => 172, armv7l => 172, armv6l => 172, s390x => 172, ppc64le => 171, ppc64 => 171);
my $prctl = eval { require "syscall.ph"; &SYS_prctl() } // $nr{(POSIX::uname())[4]};
syscall($prctl, 36, 1, 0, 0, 0) if defined $prctl;
sub tree {
  my %kids;
  opendir(my $d, "/proc") or return ();
  for my $p (grep { /\A\d+\z/ } readdir $d) {
    open(my $f, "<", "/proc/$p/stat") or next;
    my $s = <$f>;
    close $f;
    next unless defined $s && $s =~ /.*\)\s+(\S)\s+(\d+)/s;
    push @{ $kids{$2} }, $p unless $1 eq "Z";
  }
  my @out;
  my @q = ($$);
  while (@q) { my $x = shift @q; for my $c (@{ $kids{$x} || [] }) { push @out, $c; push @q, $c } }
  return @out;
}
# Stop the whole tree first (a stopped process cannot fork), until a pass finds nothing new, then kill it.
sub end_all {
  for (1 .. 20) {
    my (%seen, @all);
    for (1 .. 20) {
      my @new = grep { !$seen{$_}++ } tree();
      last unless @new;
      kill "STOP", @new;
      push @all, @new;
    }
    last unless @all;
    kill "KILL", @all;
    1 while waitpid(-1, POSIX::WNOHANG()) > 0;
    select(undef, undef, undef, 0.05);
  }
  1 while waitpid(-1, POSIX::WNOHANG()) > 0;
}
# Keyboard signals reach the terminal's foreground group, which is ours until the shell takes it.
$SIG{$_} = "IGNORE" for qw(INT QUIT TSTP TTIN TTOU);
my $shell = fork;
exit 71 unless defined $shell;
if ($shell == 0) {
  $SIG{$_} = "DEFAULT" for qw(INT QUIT TSTP TTIN TTOU);
  exec { $cmd[0] } @cmd;
  POSIX::_exit(127);
}
$SIG{HUP} = $SIG{TERM} = sub { end_all(); POSIX::_exit(129) };
my $status = 0;
while ((my $w = waitpid(-1, 0)) > 0) { if ($w == $shell) { $status = $?; last } }
end_all();
exit($status & 127 ? 128 + ($status & 127) : $status >> 8);
`;

/** Runs the launcher when perl is there, else the command itself. Fixed text; "$0" is the perl script. */
const WRAP = 'if command -v perl >/dev/null 2>&1; then exec perl -e "$0" -- "$@"; fi; shift 2; exec "$@"';

/** argv for `docker exec`: `cmd` under the launcher. */
export function launcherArgv(marker: string, owner: string, cmd: string[]): string[] {
  return ["sh", "-c", WRAP, LAUNCHER_SCRIPT, marker, owner, ...cmd];
}

/**
 * Lists the launchers in a container, one `pid uid marker owner` line each. Runs as root, which can
 * read every process's cmdline; fixed text, no arguments.
 */
export const LIST_LAUNCHERS_SCRIPT = String.raw`
opendir(my $d, "/proc") or exit 0;
for my $p (grep { /\A\d+\z/ } readdir $d) {
  open(my $f, "<", "/proc/$p/cmdline") or next;
  local $/;
  my $c = <$f>;
  close $f;
  next unless defined $c && $c =~ /\Amdind-term ([a-f0-9]{32}) ([a-f0-9.]{1,120})(?:[\0 ]|\z)/;
  my $uid = (stat "/proc/$p")[4];
  print "$p $uid $1 $2\n";
}
`;

export interface LauncherInfo {
  pid: number;
  uid: number;
  marker: string;
  owner: string;
}

export function parseLauncherList(out: string): LauncherInfo[] {
  const list: LauncherInfo[] = [];
  for (const line of out.split("\n")) {
    const m = /^(\d+) (\d+) ([a-f0-9]{32}) ([a-f0-9.]{1,120})$/.exec(line.trim());
    if (m) list.push({ pid: Number(m[1]), uid: Number(m[2]), marker: m[3], owner: m[4] });
  }
  return list;
}
