// Placeholder until the web client lands.
document.querySelector('#app')!.textContent = 'Parley';
