#include "service/resilience/retry_budget.h"

#include <algorithm>

namespace otaverify {

RetryBudget::RetryBudget(const Options& options)
    : capacity_(std::max(0, options.capacity)),
      retry_cost_(std::max(0, options.retry_cost)),
      timeout_retry_cost_(std::max(0, options.timeout_retry_cost)),
      success_refund_(std::max(0, options.success_refund)),
      available_(capacity_) {}

bool RetryBudget::TryAcquire(bool timeout) {
  const int cost = timeout ? timeout_retry_cost_ : retry_cost_;
  absl::MutexLock lock(&mu_);
  if (available_ < cost) return false;
  available_ -= cost;
  return true;
}

void RetryBudget::OnSuccess() {
  absl::MutexLock lock(&mu_);
  // Subtracting first cannot overflow, whatever the options.
  available_ += std::min(success_refund_, capacity_ - available_);
}

int RetryBudget::available() const {
  absl::MutexLock lock(&mu_);
  return available_;
}

}  // namespace otaverify
