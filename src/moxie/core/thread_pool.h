#pragma once
// Persistent worker threads with a cheap spin-then-sleep barrier. The calling thread
// is worker 0, so a pool of 1 runs everything inline.
#include <cstdint>
#include <memory>

namespace moxie {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads >= 1, the caller included
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(ith, nth) once on each of the nth = size() threads; returns when all are done.
  template <class F>
  void run(F&& fn) {
    run_impl([](void* ctx, int ith, int nth) { (*static_cast<F*>(ctx))(ith, nth); }, &fn);
  }

  // The half-open range [begin, end) of n items that thread ith of nth takes.
  static void split(int64_t n, int ith, int nth, int64_t* begin, int64_t* end) {
    const int64_t per = n / nth, extra = n % nth;
    *begin = ith * per + (ith < extra ? ith : extra);
    *end = *begin + per + (ith < extra ? 1 : 0);
  }

 private:
  void run_impl(void (*fn)(void*, int, int), void* ctx);

  struct State;
  int n_threads_;
  std::unique_ptr<State> state_;
};

}  // namespace moxie
