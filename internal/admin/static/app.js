// Gatehouse dashboard: progressive enhancements only. Every page works
// without this script. It is loaded from 'self' (script-src 'self'); there
// is no inline script anywhere.
(function () {
  'use strict';

  // Copy buttons: <button data-copy="ELEMENT_ID" hidden>. Shown only when
  // the Clipboard API is there to use.
  document.querySelectorAll('[data-copy]').forEach(function (button) {
    var target = document.getElementById(button.getAttribute('data-copy'));
    if (!target || !navigator.clipboard || !window.isSecureContext) {
      return;
    }
    var status = document.getElementById(button.getAttribute('data-copy') + '-status');
    button.hidden = false;
    button.addEventListener('click', function () {
      var text = 'value' in target ? target.value : target.textContent;
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = 'Copied';
        if (status) { status.textContent = 'Copied to the clipboard.'; }
        setTimeout(function () { button.textContent = 'Copy'; }, 2000);
      }, function () {
        if (status) { status.textContent = 'Could not copy; select the text and copy it.'; }
        target.select && target.select();
      });
    });
  });

  // Branding: update the preview card as the fields change.
  var form = document.getElementById('branding-form');
  var card = document.getElementById('branding-preview');
  if (!form || !card) {
    return;
  }
  var name = document.getElementById('preview-name');
  var logo = document.getElementById('preview-logo');
  var appName = document.getElementById('app_name');
  var logoURL = document.getElementById('logo_url');
  var color = document.getElementById('primary_color');
  var picker = document.getElementById('primary_color_picker');
  var fallbackName = card.getAttribute('data-env-name') || '';
  var hex = /^#[0-9a-fA-F]{6}$/;

  function update() {
    name.textContent = appName.value.trim() || fallbackName;
    var url = logoURL.value.trim();
    if (/^https:\/\/[^\s]+$/.test(url)) {
      if (logo.getAttribute('src') !== url) { logo.setAttribute('src', url); }
      logo.hidden = false;
    } else {
      logo.hidden = true;
    }
    var c = color.value.trim();
    card.style.setProperty('--brand', hex.test(c) ? c : '');
    if (picker && hex.test(c)) { picker.value = c.toLowerCase(); }
    var checked = form.querySelector('input[name="appearance"]:checked');
    var mode = checked ? checked.value : 'auto';
    card.classList.remove('appearance-auto', 'appearance-light', 'appearance-dark');
    card.classList.add('appearance-' + mode);
  }

  if (picker) {
    picker.hidden = false;
    picker.addEventListener('input', function () {
      color.value = picker.value;
      update();
    });
  }
  logo.addEventListener('error', function () { logo.hidden = true; });
  form.addEventListener('input', update);
  form.addEventListener('change', update);
  update();
})();
