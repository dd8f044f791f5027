// A POSIX shared memory object a test owns as a Triton client would: created (under a name
// unique to this process and object), sized and mapped; unlinked and unmapped by the destructor.
// Header-only; used by the shared-memory tests of the server and of the client library.
#ifndef TCONV_TESTS_TESTING_SHM_OBJECT_H_
#define TCONV_TESTS_TESTING_SHM_OBJECT_H_

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tconv::testing {

class ShmObject {
 public:
  explicit ShmObject(size_t size) : size_(size) {
    static std::atomic<int> counter{0};
    key_ = absl::StrCat("/tconv_shm_test_", getpid(), "_", counter++);
    const int fd = shm_open(key_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    data_ = static_cast<char*>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
  }
  ~ShmObject() {
    munmap(data_, size_);
    shm_unlink(key_.c_str());
  }
  ShmObject(const ShmObject&) = delete;
  ShmObject& operator=(const ShmObject&) = delete;

  const std::string& key() const { return key_; }
  size_t size() const { return size_; }
  char* data() { return data_; }
  void Write(size_t offset, const std::vector<float>& values) {
    std::memcpy(data_ + offset, values.data(), values.size() * sizeof(float));
  }
  std::string Bytes(size_t offset, size_t size) const { return std::string(data_ + offset, size); }

 private:
  size_t size_;
  std::string key_;
  char* data_ = nullptr;
};

}  // namespace tconv::testing

#endif  // TCONV_TESTS_TESTING_SHM_OBJECT_H_
