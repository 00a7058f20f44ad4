'use client';

import Shell from '@/components/Shell';
import ChatView from './ChatView';

export default function ChatPage() {
  return (
    <Shell wide>
      <ChatView />
    </Shell>
  );
}
