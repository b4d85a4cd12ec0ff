// foureyes inbox: passkeys (WebAuthn). Adds a passkey on the account page, signs in with one,
// and confirms a decision of a request that needs step-up. The server builds every challenge
// and checks every answer; this file only carries them between it and the browser's
// authenticator. Without it, or in a browser without WebAuthn, the passkey parts stay hidden
// and a step-up decision is refused by the server with a message saying why.
(function () {
  "use strict";

  var PKC = window.PublicKeyCredential;
  var supported = !!(PKC && PKC.parseCreationOptionsFromJSON && PKC.parseRequestOptionsFromJSON &&
    navigator.credentials);

  function say(text, ok) {
    var status = document.getElementById("passkey-status") || document.getElementById("message");
    if (!status) {
      return;
    }
    status.textContent = text;
    status.classList.toggle("ok", !!ok);
    status.hidden = false;
  }

  // A form-encoded POST with the page's CSRF token; the JSON answer, or an Error with its message.
  function post(url, fields) {
    return fetch(url, {
      method: "POST",
      body: new URLSearchParams(fields),
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          throw new Error((body.error && body.error.message) || ("the server answered " + response.status));
        }
        return body;
      });
    });
  }

  function failed(error) {
    // The person closed the browser's dialog, or no passkey matched: not the server's fault.
    if (error && error.name === "NotAllowedError") {
      return "The passkey was not used (cancelled, timed out, or no passkey of yours here).";
    }
    return (error && error.message) || String(error);
  }

  // ---------------------------------------------------------------- adding a passkey

  var add = document.querySelector("[data-passkey-register]");
  if (add && supported) {
    add.hidden = false;
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (e) { e.hidden = true; });
    add.addEventListener("submit", function (event) {
      event.preventDefault();
      var csrf = add.elements.csrf.value;
      var name = add.elements.name.value;
      post("/inbox/account/passkeys/options", { csrf: csrf }).then(function (ceremony) {
        var publicKey = PKC.parseCreationOptionsFromJSON(ceremony.options);
        return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
          return post("/inbox/account/passkeys", {
            csrf: csrf,
            nonce: ceremony.nonce,
            name: name,
            credential: JSON.stringify(credential.toJSON())
          });
        });
      }).then(function () {
        window.location.assign("/inbox/account?added=1#passkeys-h");
      }).catch(function (error) {
        say("The passkey was not added: " + failed(error));
      });
    });
  }

  // ---------------------------------------------------------------- signing in

  var signIn = document.querySelector("[data-passkey-sign-in]");
  if (signIn && supported) {
    signIn.hidden = false;
    var form = signIn.querySelector("form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var csrf = form.elements.csrf.value;
      post("/inbox/login/passkey/options", { csrf: csrf }).then(function (ceremony) {
        var publicKey = PKC.parseRequestOptionsFromJSON(ceremony.options);
        return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
          return post("/inbox/login/passkey", {
            csrf: csrf,
            nonce: ceremony.nonce,
            next: form.elements.next.value,
            credential: JSON.stringify(credential.toJSON())
          });
        });
      }).then(function (answer) {
        window.location.assign(answer.next);
      }).catch(function (error) {
        say("Not signed in: " + failed(error));
      });
    });
  }

  // ---------------------------------------------------------------- step-up of a decision

  document.querySelectorAll("form[data-step-up]").forEach(function (decision) {
    decision.addEventListener("submit", function (event) {
      if (decision.elements.step_up_credential.value) {
        return; // confirmed: this is the real submission
      }
      event.preventDefault();
      if (!supported) {
        say("This request needs step-up, and this browser cannot use passkeys (WebAuthn).");
        return;
      }
      var submitter = event.submitter || null;
      var sent = new FormData(decision, submitter);
      var action = sent.get("action") || "answer";
      post(decision.getAttribute("data-step-up"), {
        csrf: sent.get("csrf"),
        action: action,
        edited_kwargs: sent.get("edited_kwargs") || ""
      }).then(function (ceremony) {
        var publicKey = PKC.parseRequestOptionsFromJSON(ceremony.options);
        return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
          decision.elements.step_up_nonce.value = ceremony.nonce;
          decision.elements.step_up_credential.value = JSON.stringify(credential.toJSON());
          decision.requestSubmit(submitter);
        });
      }).catch(function (error) {
        say("Your decision was not sent: " + failed(error));
      });
    });
  });
})();
