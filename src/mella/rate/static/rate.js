// mella rate: saves each choice at once, keyboard shortcuts, image zoom.
// Data comes only from the JSON block #page-data and from JSON answers; text is written with textContent only.
(function () {
  "use strict";

  var block = document.getElementById("page-data");
  var data = block ? JSON.parse(block.textContent || "{}") : {};
  initZoom();
  if (data.page === "item") {
    initItem(data);
  }

  function initZoom() {
    var open = document.getElementById("zoom-open");
    var overlay = document.getElementById("zoom");
    if (!open || !overlay) {
      return;
    }
    var close = document.getElementById("zoom-close");
    function hide() {
      overlay.hidden = true;
      open.focus();
    }
    function show() {
      overlay.hidden = false;
      close.focus();
    }
    open.addEventListener("click", show);
    overlay.addEventListener("click", hide);
    document.addEventListener("keydown", function (e) {
      if (!overlay.hidden && e.key === "Escape") {
        e.preventDefault();
        hide();
      } else if (overlay.hidden && e.code === "KeyZ" && !e.ctrlKey && !e.metaKey && !e.altKey && !typing(e.target)) {
        e.preventDefault();
        show();
      }
    });
  }

  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type !== "radio"));
  }

  // "1".."5" from the key's position on the keyboard, so Arabic-Indic or Thai digit layouts work too.
  function digit(e) {
    var m = /^(?:Digit|Numpad)([1-5])$/.exec(e.code || "");
    if (m) {
      return m[1];
    }
    return /^[1-5]$/.test(e.key) ? e.key : null;
  }

  function initItem(data) {
    var form = document.getElementById("judge");
    var comment = document.getElementById("comment");
    var status = document.getElementById("status");
    var progress = document.getElementById("progress");
    var progressText = document.getElementById("progress-text");
    var answers = Object.assign({}, data.answers || {});
    var savedComment = data.comment || "";
    var pending = {};          // question -> value not yet confirmed by the server
    var sending = false;
    var leaving = false;
    var retryTimer = null;

    function fieldset(question) {
      return form.querySelector('fieldset.question[data-question="' + CSS.escape(question) + '"]');
    }

    function mark(question, state) {
      var fs = fieldset(question);
      if (fs) {
        fs.dataset.state = state;
      }
    }

    function say(text, kind) {
      status.textContent = text;
      status.dataset.kind = kind || "";
    }

    function choose(question, value) {
      var input = form.querySelector('input[name="' + CSS.escape(question) + '"][value="' + CSS.escape(value) + '"]');
      if (!input) {
        return;
      }
      input.checked = true;
      record(question, value);
    }

    function record(question, value) {
      answers[question] = value;
      pending[question] = value;
      mark(question, "saving");
      flush();
    }

    // Send what is pending, one request at a time; a failure keeps it pending and retries.
    function flush() {
      if (sending) {
        return Promise.resolve(false);
      }
      var questions = Object.keys(pending);
      if (questions.length === 0) {
        return Promise.resolve(true);
      }
      var question = questions[0];
      var value = pending[question];
      var text = comment.value;
      sending = true;
      say(data.ui.saving, "saving");
      return fetch("/api/judge", {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": data.csrf},
        body: JSON.stringify({item_id: data.item_id, question: question, value: value, comment: text})
      }).then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      }).then(function (answer) {
        sending = false;
        if (pending[question] === value) {
          delete pending[question];
          mark(question, "saved");
        }
        savedComment = text;
        progress.max = answer.total;
        progress.value = answer.done;
        progressText.textContent = data.ui.progress.replace("{done}", answer.done).replace("{total}", answer.total);
        if (Object.keys(pending).length) {
          return flush();
        }
        say(data.ui.saved, "saved");
        return true;
      }, function () {
        sending = false;
        say(data.ui.save_failed, "error");
        if (!retryTimer && !leaving) {
          retryTimer = setTimeout(function () {
            retryTimer = null;
            flush();
          }, 2000);
        }
        return false;
      });
    }

    // Save (the comment too: it is stored with every answered question) and go on.
    function saveAndGo(url) {
      if (comment.value !== savedComment) {
        Object.keys(answers).forEach(function (q) {
          pending[q] = answers[q];
        });
      }
      var wait = function () {
        if (sending) {
          return new Promise(function (resolve) { setTimeout(resolve, 50); }).then(wait);
        }
        return flush();
      };
      return wait().then(function (ok) {
        if (ok && Object.keys(pending).length === 0) {
          leaving = true;
          window.location.assign(url);
        }
      });
    }

    function firstUnanswered() {
      for (var i = 0; i < data.questions.length; i++) {
        if (!(data.questions[i] in answers)) {
          return data.questions[i];
        }
      }
      return null;
    }

    // The question a digit key rates: the one the keyboard focus is in, else the first unanswered, else the first.
    function targetQuestion() {
      var active = document.activeElement;
      var fs = active && active.closest ? active.closest("fieldset.question") : null;
      if (fs && active.matches(":focus-visible")) {
        return fs.dataset.question;
      }
      return firstUnanswered() || data.questions[0];
    }

    form.querySelectorAll("fieldset.question").forEach(function (fs) {
      var q = fs.dataset.question;
      if (q in answers) {
        fs.dataset.state = "saved";
      }
      fs.addEventListener("change", function (e) {
        if (e.target && e.target.name === q) {
          record(q, e.target.value);
        }
      });
    });

    // Save and next: only once every question has an answer (Skip moves on without).
    function saveAndNext() {
      var missing = firstUnanswered();
      if (missing) {
        say(data.ui.answer_all, "error");
        var first = fieldset(missing).querySelector("input");
        if (first) {
          first.focus();
        }
        return;
      }
      saveAndGo(data.next_url);
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      saveAndNext();
    });

    document.getElementById("skip").addEventListener("click", function (e) {
      e.preventDefault();
      saveAndGo(data.next_url);
    });

    comment.addEventListener("change", function () {
      if (comment.value !== savedComment) {
        Object.keys(answers).forEach(function (q) {
          pending[q] = answers[q];
        });
        flush();
      }
    });

    document.getElementById("back").addEventListener("click", function (e) {
      e.preventDefault();
      saveAndGo(data.back_url);
    });

    document.addEventListener("keydown", function (e) {
      var zoom = document.getElementById("zoom");
      if (e.ctrlKey || e.metaKey || e.altKey || (zoom && !zoom.hidden) || e.isComposing) {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && typing(e.target)) {
          e.preventDefault();
          saveAndNext();
        }
        return;
      }
      if (typing(e.target)) {
        return;
      }
      var key = e.key;
      var rtl = data.dir === "rtl";
      if (data.kind === "pairwise") {
        // letters by key position (a Thai or Arabic layout types other characters); arrows by the side they point
        var side = {KeyA: "A", KeyT: "tie", KeyB: "B"}[e.code] ||
                   {ArrowDown: "tie", ArrowLeft: rtl ? "B" : "A", ArrowRight: rtl ? "A" : "B"}[key];
        if (side) {
          e.preventDefault();
          choose("preference", side);
          return;
        }
      } else if (digit(e)) {
        e.preventDefault();
        choose(targetQuestion(), digit(e));
        return;
      }
      if (key === "Enter") {
        var tag = e.target && e.target.tagName;
        if (tag === "A" || tag === "BUTTON") {
          return;  // the focused link or button does its own thing
        }
        e.preventDefault();
        saveAndNext();
      } else if (key === "Backspace") {
        e.preventDefault();
        saveAndGo(data.back_url);
      }
    });
  }
})();
