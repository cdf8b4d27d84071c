// Mounts Stripe.js's Payment Element in #stripe-payment-form and confirms the PaymentIntent.
// The order is recorded by Stripe's webhook, never by this script: after paying, the shopper
// lands on the order's status page, which shows the order as paid once Stripe has said so.
(function () {
  "use strict";
  var form = document.getElementById("stripe-payment-form");
  if (!form || typeof Stripe === "undefined") return;
  var stripe = Stripe(form.dataset.publishableKey);
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("#stripe-payment-element");
  var message = document.getElementById("stripe-payment-message");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    form.querySelector("button").disabled = true;
    stripe
      .confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.returnUrl } })
      .then(function (result) {
        // Only reached when the payment could not be confirmed (otherwise Stripe redirects).
        if (result.error) message.textContent = result.error.message;
        form.querySelector("button").disabled = false;
      });
  });
})();
