// Errors as values. Every fallible function returns Result<T>; nothing throws
// across a module boundary. An Error says what failed, where (file:line:col,
// an object name, an op), and why (errno text, the kernel's extack, a rule).
// Code decides on Error.code, never on the text: the text is for people and
// changes with the libc locale, the kernel's extack wording and our own edits.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace avpn {

struct Error {
    std::string what;   // the operation or check that failed
    std::string where;  // file:line:col and field path, or the object
    std::string why;    // the reason, in words
    int code = 0;       // the errno when the system or the kernel said why (ETIMEDOUT for a
                        // wait of ours that ran out), else 0; decisions use this, never the text

    std::string str() const {
        std::string s;
        if (!where.empty()) s += where + ": ";
        s += what;
        if (!why.empty()) s += ": " + why;
        return s;
    }
};

using Errors = std::vector<Error>;

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error e) : v_(std::move(e)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : err_(std::move(e)), failed_(true) {}
    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace avpn
