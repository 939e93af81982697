import './zod-without-eval.js';
import { createApp } from 'vue';
import App from './components/App.vue';
import { locale } from './i18n.js';
import './styles.css';

document.documentElement.lang = locale === 'zh' ? 'zh-CN' : 'en';
createApp(App).mount('#app');
