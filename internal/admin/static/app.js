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

  // Black or white text, whichever contrasts more (WCAG luminance).
  function textOn(c) {
    function lin(h) {
      var v = parseInt(h, 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    }
    var l = 0.2126 * lin(c.substr(1, 2)) + 0.7152 * lin(c.substr(3, 2)) + 0.0722 * lin(c.substr(5, 2));
    return (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? '#0b0c0e' : '#ffffff';
  }

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
    card.style.setProperty('--brand-text', hex.test(c) ? textOn(c) : '');
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
