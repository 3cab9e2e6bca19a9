// Forms that ask before they are sent: <form data-confirm="question">. A
// listener rather than an onsubmit attribute, which the pages' CSP refuses.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
