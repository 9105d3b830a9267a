#pragma once
// Errors raised while evaluating a template. They carry no position: the interpreter
// catches them at the statement or expression that failed and rethrows a moxie::Error
// naming the template line and construct.
#include <stdexcept>
#include <string>

namespace moxie::tmpl {

class EvalError : public std::runtime_error {
 public:
  explicit EvalError(const std::string& what) : std::runtime_error(what) {}
};

// raise_exception("...") in a template: the message is the template author's, so it is
// passed on verbatim (Hugging Face raises jinja2.TemplateError with it).
class RaisedError : public std::runtime_error {
 public:
  explicit RaisedError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace moxie::tmpl
