/**
 * Interface text in English and Chinese, chosen once from the browser's language. A dictionary and
 * a `t()` with `{name}` placeholders is all the app needs; no i18n library.
 */
const en = {
  appName: 'Parley',
  tagline: 'Real-time chat',
  'signin.guest': 'Guest',
  'signin.login': 'Log in',
  'signin.register': 'Register',
  'signin.modes': 'How to sign in',
  'signin.name': 'Name',
  'signin.password': 'Password',
  'signin.guestHint': 'Pick a name and start chatting. No password needed.',
  'signin.loginHint': 'Welcome back.',
  'signin.registerHint': 'Keep your name: choose a password (at least 8 characters).',
  'signin.enter': 'Enter chat',
  'signin.submitLogin': 'Log in',
  'signin.submitRegister': 'Create account',
  'signin.working': 'One moment…',
  'signin.failed': 'Sign-in failed: {message}',
  'signin.network': 'The server cannot be reached. Try again in a moment.',
  'signin.nameRequired': 'Please enter a name.',
  'signin.passwordRequired': 'Please enter a password.',
  sessionEnded: 'Your session has ended. Please sign in again.',
  loading: 'Loading…',
  logout: 'Log out',
  signedInAs: 'Signed in as {name}',
  guestBadge: 'guest',
  rooms: 'Rooms',
  directMessages: 'Direct messages',
  browseRooms: 'Other rooms',
  noOtherRooms: 'No other public rooms.',
  join: 'Join',
  leave: 'Leave room',
  refresh: 'Refresh',
  unread: '{count} unread',
  newRoom: 'New room',
  roomName: 'Room name',
  privateRoom: 'Private (invite only)',
  create: 'Create',
  cancel: 'Cancel',
  privateLabel: 'private',
  online: 'Online',
  onlineCount: 'Online ({count})',
  lastSeenCount: 'Last seen ({count})',
  peopleStale: 'Reconnecting… This list is updated when the connection is back.',
  nobodyOnline: 'Nobody else is here.',
  you: 'you',
  messageUser: 'Message {name}',
  invite: 'Invite',
  inviteTo: 'Invite to {room}',
  invited: '{name} can now see this room.',
  findToInvite: 'Find someone by name',
  noneFound: 'Nobody by that name.',
  showRooms: 'Rooms',
  showUsers: 'People',
  close: 'Close',
  dmWith: '{name}',
  dmTitle: 'Direct message with {name}',
  messages: 'Messages',
  loadingOlder: 'Loading earlier messages…',
  beginning: 'This is the beginning of {room}.',
  beginningDm: 'This is the beginning of your conversation with {name}.',
  noMessages: 'No messages yet. Say hello!',
  today: 'Today',
  yesterday: 'Yesterday',
  joined: '{name} joined',
  left: '{name} left',
  pending: 'Sending…',
  failed: 'Not sent: {message}',
  retry: 'Retry',
  edit: 'Edit',
  discard: 'Discard',
  typingOne: '{a} is typing…',
  typingTwo: '{a} and {b} are typing…',
  typingMany: 'Several people are typing…',
  composerLabel: 'Message {room}',
  composerHint: 'Enter to send, Shift+Enter for a new line',
  charsLeft: 'Characters left: {count}',
  charsOver: 'Characters over the limit: {count}',
  send: 'Send',
  skipToComposer: 'Skip to the message box',
  loadOlder: 'Load earlier messages',
  connecting: 'Connecting…',
  reconnecting: 'Connection lost. Reconnecting…',
  reconnectingIn: 'Connection lost. Reconnecting in {seconds} s…',
  offlineQueued: 'Messages you send now are delivered when the connection is back.',
  connectionClosed: 'Disconnected.',
  reload: 'Reload',
  historyGap: 'Some older messages in {room} are no longer available.',
  historyRewound: "The server's history of {room} was restored to an earlier point: the messages after #{id} are gone.",
  errorNotice: '{message}',
  dismiss: 'Dismiss',
  unknownUser: 'user #{id}',
};

type Key = keyof typeof en;

const zh: Record<Key, string> = {
  appName: 'Parley',
  tagline: '实时聊天',
  'signin.guest': '访客',
  'signin.login': '登录',
  'signin.register': '注册',
  'signin.modes': '登录方式',
  'signin.name': '名字',
  'signin.password': '密码',
  'signin.guestHint': '起个名字就能开始聊天，不需要密码。',
  'signin.loginHint': '欢迎回来。',
  'signin.registerHint': '保留你的名字：设置一个密码（至少 8 个字符）。',
  'signin.enter': '进入聊天室',
  'signin.submitLogin': '登录',
  'signin.submitRegister': '创建账号',
  'signin.working': '请稍候…',
  'signin.failed': '登录失败：{message}',
  'signin.network': '无法连接服务器，请稍后再试。',
  'signin.nameRequired': '请输入名字。',
  'signin.passwordRequired': '请输入密码。',
  sessionEnded: '登录已失效，请重新登录。',
  loading: '加载中…',
  logout: '退出',
  signedInAs: '当前用户：{name}',
  guestBadge: '访客',
  rooms: '聊天室',
  directMessages: '私信',
  browseRooms: '其他聊天室',
  noOtherRooms: '没有其他公开聊天室。',
  join: '加入',
  leave: '退出聊天室',
  refresh: '刷新',
  unread: '{count} 条未读',
  newRoom: '新建聊天室',
  roomName: '聊天室名称',
  privateRoom: '私密（仅限邀请）',
  create: '创建',
  cancel: '取消',
  privateLabel: '私密',
  online: '在线',
  onlineCount: '在线（{count}）',
  lastSeenCount: '最近在线（{count}）',
  peopleStale: '正在重新连接…连接恢复后会更新这份名单。',
  nobodyOnline: '这里暂时没有其他人。',
  you: '你',
  messageUser: '给 {name} 发私信',
  invite: '邀请',
  inviteTo: '邀请加入 {room}',
  invited: '{name} 现在可以看到这个聊天室了。',
  findToInvite: '按名字查找',
  noneFound: '没有叫这个名字的人。',
  showRooms: '聊天室',
  showUsers: '成员',
  close: '关闭',
  dmWith: '{name}',
  dmTitle: '与 {name} 的私信',
  messages: '消息',
  loadingOlder: '正在加载更早的消息…',
  beginning: '这是 {room} 的第一条消息。',
  beginningDm: '这是你和 {name} 的私信的开始。',
  noMessages: '还没有消息，打个招呼吧！',
  today: '今天',
  yesterday: '昨天',
  joined: '{name} 加入了',
  left: '{name} 离开了',
  pending: '发送中…',
  failed: '未发送：{message}',
  retry: '重试',
  edit: '编辑',
  discard: '放弃',
  typingOne: '{a} 正在输入…',
  typingTwo: '{a} 和 {b} 正在输入…',
  typingMany: '多人正在输入…',
  composerLabel: '发消息到 {room}',
  composerHint: 'Enter 发送，Shift+Enter 换行',
  charsLeft: '还可输入 {count} 个字符',
  charsOver: '超出上限 {count} 个字符',
  send: '发送',
  skipToComposer: '跳到输入框',
  loadOlder: '加载更早的消息',
  connecting: '正在连接…',
  reconnecting: '连接已断开，正在重新连接…',
  reconnectingIn: '连接已断开，{seconds} 秒后重新连接…',
  offlineQueued: '现在发送的消息会在连接恢复后送达。',
  connectionClosed: '已断开连接。',
  reload: '重新加载',
  historyGap: '{room} 中部分较早的消息已不可用。',
  historyRewound: '服务器上 {room} 的历史已恢复到较早的时间点：#{id} 之后的消息已不存在。',
  errorNotice: '{message}',
  dismiss: '关闭',
  unknownUser: '用户 #{id}',
};

export type Locale = 'en' | 'zh';

/** `zh`, `zh-CN`, `zh-TW`… get Chinese; every other language gets English. */
export function pickLocale(languages: readonly string[]): Locale {
  const first = languages[0] ?? 'en';
  return first.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

const browserLanguages =
  typeof navigator === 'undefined' ? ['en'] : navigator.languages?.length ? navigator.languages : [navigator.language];

export const locale: Locale = pickLocale(browserLanguages);
const dictionary: Record<Key, string> = locale === 'zh' ? zh : en;

/**
 * The refusals a user meets, by the server's error code, for Chinese: the server answers in English.
 * `{limit}` is the first number in the server's text (its limit), when it has one. Codes not here
 * (a bad_request says exactly what is wrong) keep the server's text.
 */
const zhRefusals: Record<string, string> = {
  name_taken: '这个名字已被占用。',
  unauthorized: '名字或密码不对。',
  room_exists: '这个聊天室已经存在。',
  rate_limited: '操作太频繁，请稍后再试。',
  too_large: '太长了：上限是 {limit} 个字符。',
  forbidden: '没有权限这样做。',
};

/** A refusal from the server in the interface's language. */
export function refusalText(code: string | undefined, serverText: string): string {
  const text = locale === 'zh' && code !== undefined ? zhRefusals[code] : undefined;
  if (text === undefined) return serverText;
  if (!text.includes('{limit}')) return text;
  const limit = /\d+/.exec(serverText)?.[0];
  return limit === undefined ? '太长了。' : text.replace('{limit}', limit);
}

export function t(key: Key, params: Record<string, string | number> = {}): string {
  return dictionary[key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}
