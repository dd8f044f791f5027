// Waiting on something that happens, instead of sleeping and hoping: a one-shot Event, and a
// Gate whose blockers hold the threads calling them until it opens. Every wait is bounded by
// kWait, so a test that goes wrong fails instead of hanging. std::mutex, not absl::Mutex: see
// server/core/README.md, "Locks".
#ifndef TCONV_TESTS_TESTING_EVENT_H_
#define TCONV_TESTS_TESTING_EVENT_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace tconv::testing {

inline constexpr std::chrono::seconds kWait{30};

// A one-shot event (absl::Notification on std::mutex).
class Event {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
    cv_.notify_all();
  }
  bool HasBeenNotified() const {
    std::lock_guard<std::mutex> lock(mu_);
    return notified_;
  }
  // True once notified; false after kWait.
  bool WaitForNotification() const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [this] { return notified_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool notified_ = false;
};

// Blocker() is a function (e.g. an InferenceRequest's is_cancelled) that holds the thread
// calling it until Open() (or kWait), then returns false. Shared state, so blockers may outlive
// the Gate; destroying the Gate opens it.
class Gate {
 public:
  ~Gate() { Open(); }
  std::function<bool()> Blocker() {
    return [state = state_] {
      std::unique_lock<std::mutex> lock(state->mu);
      ++state->entered;
      state->cv.notify_all();
      state->cv.wait_for(lock, kWait, [&] { return state->open; });
      return false;
    };
  }
  // Waits until `n` blockers are being held (or have been).
  bool WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(state_->mu);
    return state_->cv.wait_for(lock, kWait, [&] { return state_->entered >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->open = true;
    state_->cv.notify_all();
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int entered = 0;
    bool open = false;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace tconv::testing

#endif  // TCONV_TESTS_TESTING_EVENT_H_
