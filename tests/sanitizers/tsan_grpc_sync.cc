// TSan wrappers for the two gRPC core calls that bracket every batch of operations, and for the
// two steps of a server call that gRPC orders by a count it decrements inside libgrpc++
// (CallOnCancel and ScheduleOnDone, at the end), linked into every executable of a `make tsan`
// build (OTAVERIFY_SANITIZE=thread) and nowhere else.
//
// Debian's gRPC is not built with TSan. gRPC's C++ layer is mostly header code compiled into
// our binaries (instrumented): a reactor's Finish or StartWrite fills a tag and an op set on
// the calling thread, grpc_call_start_batch hands them to the core, and when the batch
// completes a thread of the callback completion queue takes the tag from
// grpc_completion_queue_next and runs it (callback_common.h, CallbackWithSuccessTag::Run),
// reading what the first thread wrote. The hand-off in between happens inside libgrpc, where
// TSan sees nothing, so every such read looked like a race with the thread that started the
// batch. Both calls cross from libgrpc++ (or our code) into libgrpc through the PLT, so these
// definitions take precedence, as tsan_absl_sync.cc's do: starting a batch releases on its tag,
// and taking a completed event from a queue acquires on the event's tag — exactly the edge the
// core guarantees (an operation completes after it was started). Other reactions the core runs
// itself do not pass through here and stay invisible; tsan.supp covers those.
//
// Thread-safe: the forwarding pointers are resolved once, under C++ static initialisation.
#include <dlfcn.h>
#include <grpc/grpc.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/version_info.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

template <typename Fn>
Fn Real(const char* symbol) {
  void* fn = dlsym(RTLD_NEXT, symbol);
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_grpc_sync: %s not found\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// ServerCallbackCall's layout (server_callback.h), to find the two counts its inline
// UnblockCancellation() and Unref() decrement: the vptr, then on_cancel_conditions_remaining_,
// then callbacks_outstanding_. The size check cannot tell the two counts apart, so the layout is
// pinned to the gRPC release it was read from.
static_assert(GRPC_CPP_VERSION_MAJOR == 1 && GRPC_CPP_VERSION_MINOR == 51,
              "check ServerCallbackCall's members in grpcpp/support/server_callback.h, then "
              "update ServerCallbackCallLayout and this check");
struct ServerCallbackCallLayout {
  void* vptr;
  std::atomic_int on_cancel_conditions_remaining;
  std::atomic_int callbacks_outstanding;
};
static_assert(sizeof(ServerCallbackCallLayout) == sizeof(grpc::internal::ServerCallbackCall),
              "grpc::internal::ServerCallbackCall's layout changed");

ServerCallbackCallLayout* Layout(grpc::internal::ServerCallbackCall* call) {
  return reinterpret_cast<ServerCallbackCallLayout*>(call);
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  static const auto real =
      Real<grpc_call_error (*)(grpc_call*, const grpc_op*, size_t, void*, void*)>(
          "grpc_call_start_batch");
  if (tag != nullptr) __tsan_release(tag);
  return real(call, ops, nops, tag, reserved);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                      void* reserved) {
  static const auto real = Real<grpc_event (*)(grpc_completion_queue*, gpr_timespec, void*)>(
      "grpc_completion_queue_next");
  const grpc_event event = real(cq, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE && event.tag != nullptr) __tsan_acquire(event.tag);
  return event;
}

}  // extern "C"

// A server call's reference count is decremented (acq_rel) by the header's inline Unref(); the
// decrement that reaches zero calls ScheduleOnDone, which runs the call's OnDone and frees the
// call, inline or on gRPC's executor. Mostly that decrement is compiled into our binaries and
// TSan sees it; but for a reactor that is not inlineable (gRPC's own UnimplementedUnaryReactor,
// which answers a call whose request never arrived, or a server stream's reactor) OnCancel runs
// in an executor closure inside libgrpc++ that then drops its reference there, invisibly. When
// that drop is the last, the thread freeing the call looked unordered with every thread that
// had used it. Our binaries call this definition directly and libgrpc++ reaches it through the
// PLT: acquiring on the count here is the acquire half of the decrement that just reached
// zero, which TSan may have missed. (A drop in that closure that is not the last still
// releases invisibly; the reactions it follows are gRPC's empty OnCancel or our stream's,
// which takes its mutex.)
namespace grpc {
namespace internal {

void ServerCallbackCall::ScheduleOnDone(bool inline_ondone) {
  static const auto real = Real<void (*)(ServerCallbackCall*, bool)>(
      "_ZN4grpc8internal18ServerCallbackCall14ScheduleOnDoneEb");
  __tsan_acquire(&Layout(this)->callbacks_outstanding);
  real(this, inline_ondone);
}

// A server call's reactor gets OnCancel only once two things have happened: the handler has
// bound the reactor (SetupReactor: header code compiled into our binaries for the project's
// services, into libgrpc++ for gRPC's own health service) and the call was seen cancelled (the
// server context's completion op, ServerContextBase::CompletionOp::FinalizeResult, inside
// libgrpc++). Each decrements on_cancel_conditions_remaining_ (acq_rel) and whichever reaches
// zero calls CallOnCancel. When the completion op is last, its decrement is invisible and
// OnCancel, run inline for an inlineable reactor, read what the handler's thread wrote on
// binding as if unordered with it. libgrpc++ reaches CallOnCancel through the PLT: acquiring on
// the count here is the acquire half of that decrement. For a reactor that is not inlineable,
// CallOnCancel queues OnCancel on gRPC's executor, whose queue lock is an absl::Mutex
// (tsan_absl_sync.cc), so the executor thread is ordered after this acquire too.
void ServerCallbackCall::CallOnCancel(ServerReactor* reactor) {
  static const auto real = Real<void (*)(ServerCallbackCall*, ServerReactor*)>(
      "_ZN4grpc8internal18ServerCallbackCall12CallOnCancelEPNS0_13ServerReactorE");
  __tsan_acquire(&Layout(this)->on_cancel_conditions_remaining);
  real(this, reactor);
}

}  // namespace internal
}  // namespace grpc
