// The raw TCP socket behind the HTTP request being handled, for the faults that must act below
// HTTP (README.md, "Fault injection": reset_before_response, process_then_reset).
//
// cpp-httplib 0.11 gives handlers no socket accessor and applies its socket-options hook only to
// the listening socket, so the socket is found by what the Request does carry: its TCP 4-tuple
// (local_addr:local_port, remote_addr:remote_port), unique among live connections. The lookup
// scans this process's descriptors (/proc/self/fd); it runs only when such a fault fires.
//
// REQUIRES for every function: called on the worker thread serving the connection, while its
// handler runs. httplib closes a connection's socket only on that thread, after the handler
// returns, so the descriptor found stays this connection's for the handler's lifetime -- and
// for no longer: a descriptor number kept past the handler (in a content provider, say) may
// by then name another connection's socket.
#ifndef OTAVERIFY_EMULATOR_CONNECTION_SOCKET_H_
#define OTAVERIFY_EMULATOR_CONNECTION_SOCKET_H_

#include <string>

namespace otaverify {
namespace emulator {

// The descriptor of the accepted socket whose local end is local_addr:local_port and whose peer
// is remote_addr:remote_port (numeric hosts, as httplib reports them), or -1.
int FindConnectionSocket(const std::string& local_addr, int local_port,
                         const std::string& remote_addr, int remote_port);

// Aborts the connection with a TCP RST: SO_LINGER {on, 0}, then the socket is closed by
// replacing `fd` with /dev/null (dup2), so `fd` stays a valid descriptor its owner (httplib)
// can still write to, poll (EOF at once) and close, and no other thread can be handed the
// number in between. Whatever httplib writes afterwards goes nowhere. False if it failed.
bool ResetConnection(int fd);

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_CONNECTION_SOCKET_H_
