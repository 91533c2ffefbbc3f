// One avpn writer per network namespace (reconcile/writer_lock.hpp): a
// second writer in the same namespace is refused and told who holds it,
// whatever state directory it was given; a writer in another namespace is
// not; the kernel releases the lock when the holder dies, even by SIGKILL.
#include <doctest/doctest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "orchestrator/reconcile/state_dir.hpp"
#include "orchestrator/reconcile/writer_lock.hpp"

using namespace avpn;

namespace {

std::string temp_dir() {
    char tmpl[] = "/tmp/avpn-writer-lock-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    return tmpl;
}

// Runs f in a child; its exit status.
template <class F>
int in_child(F f) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(f());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

}  // namespace

TEST_CASE("a second writer in the namespace is refused, naming the holder") {
    WriterLock first;
    REQUIRE(first.acquire());
    CHECK(writer_lock_holder() == ::getpid());
    // Another process, another state directory: still refused.
    int rc = in_child([] {
        StateDir other(temp_dir());
        Status s = other.lock();
        if (s) return 1;
        if (s.error().what != "locked" || s.error().code != EADDRINUSE) return 2;
        std::string expect = "(pid " + std::to_string(::getppid()) + ")";
        return s.error().why.find(expect) != std::string::npos ? 0 : 3;
    });
    CHECK(rc == 0);
}

TEST_CASE("a writer in another network namespace is not affected") {
    WriterLock here;
    REQUIRE(here.acquire());
    int rc = in_child([] {
        if (::unshare(CLONE_NEWNET) != 0) return 10;
        WriterLock there;
        return there.acquire() ? 0 : 1;
    });
    CHECK(rc == 0);
}

TEST_CASE("the lock dies with its holder, even by SIGKILL") {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        WriterLock l;
        char c = l.acquire() ? 'y' : 'n';
        (void)!::write(ready[1], &c, 1);
        ::pause();
        ::_exit(0);
    }
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    REQUIRE(c == 'y');
    CHECK(writer_lock_holder() == pid);
    WriterLock refused;
    CHECK_FALSE(refused.acquire());
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    CHECK(writer_lock_holder() == 0);
    WriterLock after;
    CHECK(after.acquire());
}
